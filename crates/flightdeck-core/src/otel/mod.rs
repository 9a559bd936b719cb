//! Pure OpenTelemetry reading: spans and log records as every span source hands them over, and
//! the calls and evaluations they describe. No I/O: the receiver and the Phoenix source decode
//! their wire formats into these types.

pub mod batch;
pub mod evaluation;
pub mod join;
pub mod map;
pub mod messages;
pub mod proto;
pub mod span;

pub use map::{MapError, Mapped, call_from_span};
pub use span::{Attributes, SpanEvent, SpanRecord, SpanStatus};
