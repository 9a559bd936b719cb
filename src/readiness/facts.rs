//! What the gather step read from the live systems and the disk, for the pure items to judge.

use std::path::PathBuf;

use crate::model::MitigationPlan;

/// What a mitigation backend said when asked for its current state.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The config names no backend for this mitigation.
    NotConfigured,
    /// The config names one that cannot be built: a missing section or variable.
    Misconfigured(String),
    /// A backend that cannot be asked (a webhook only takes orders).
    Unaskable(String),
    /// The plan the backend's current state gives, or why it could not be reached.
    Read(Result<Box<MitigationPlan>, String>),
}

/// The recent calls of the configured telemetry, as the engine's checks read them.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// Where they were read, e.g. "the last 1000 calls in calls.jsonl".
    pub source: String,
    pub calls: Vec<CallFacts>,
}

/// What one call says about the checklist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFacts {
    pub model_requested: String,
    pub model_served: Option<String>,
    /// The hallucination evaluator's verdict, if one ran on the call.
    pub hallucinated: Option<bool>,
    /// Whether the answer is a refusal, when there is an answer to read.
    pub refused: Option<bool>,
    /// Whether the answer satisfies its output schema, when it has one.
    pub schema_compliant: Option<bool>,
}

/// What one recorded incident or drill did with the kill switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    pub incident: String,
    /// The drill's scenario, None for a real incident.
    pub drill: Option<String>,
    pub opened: String,
    /// The kill switch was applied and its backend read back the new state.
    pub kill_switch_read_back: bool,
    /// The verification after the kill switch saw the metrics recover.
    pub recovered: bool,
}

/// The team's runbook file as found.
#[derive(Debug, Clone)]
pub enum RunbookFile {
    NotConfigured,
    Unreadable { path: PathBuf, reason: String },
    Read { path: PathBuf, text: String },
}

/// Everything the checklist is judged on besides the config.
#[derive(Debug, Clone)]
pub struct Facts {
    pub prompt_rollback: Backend,
    pub kill_switch: Backend,
    /// The recent calls, or why none could be read.
    pub telemetry: Result<Telemetry, String>,
    /// The incidents in the data dir, or why they could not be listed.
    pub exercises: Result<Vec<Exercise>, String>,
    /// Where the incidents were looked for.
    pub data_dir: PathBuf,
    pub runbook: RunbookFile,
}
