//! Pure domain types: what flightdeck reads (calls, changes) and what it records (incidents, timelines).

pub mod call;
pub mod change;
pub mod eval;
pub mod incident;
pub mod mitigation;
pub mod source;
pub mod timeline;

pub use call::{Call, CallStatus, Feedback};
pub use change::{Change, ChangeKind, ChangeOrigin};
pub use eval::Eval;
pub use incident::{Incident, Severity, Status};
pub use mitigation::{MitigationKind, MitigationPlan, MitigationStage, PlanChoice};
pub use source::{InfraReading, SourceState, SourceStatus};
pub use timeline::{EntryKind, Outcome, TimelineEntry};
