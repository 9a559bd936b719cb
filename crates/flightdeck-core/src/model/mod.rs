//! Pure domain types: what flightdeck reads (calls, changes) and what it records (incidents, timelines).

pub mod call;
pub mod category;
pub mod change;
pub mod elapsed;
pub mod eval;
pub mod incident;
pub mod measurements;
pub mod mitigation;
pub mod source;
pub mod timeline;
pub mod zone;

pub use call::{Call, CallStatus, Feedback};
pub use category::Category;
pub use change::{Change, ChangeKind, ChangeOrigin};
pub use eval::Eval;
pub use incident::{Incident, NamedTime, REPLAY_SOURCE, Role, RoleHolder, Severity, Status};
pub use measurements::{FailingCall, Measurement, MetricMinute, MinuteSample};
pub use mitigation::{MitigationKind, MitigationPlan, MitigationStage, PlanChoice};
pub use source::{
    EmbeddingsStatus, InfraReading, PlaybackCommand, PlaybackStatus, SourceState, SourceStatus,
    jump_lead,
};
pub use timeline::{EntryKind, Outcome, TimelineEntry};
pub use zone::Zone;
