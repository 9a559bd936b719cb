//! What the cockpit knows about each telemetry source: whether it is connected, when it last
//! delivered, how far behind it runs, and what it refused or dropped. Every source reports one.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A source's connection as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum SourceState {
    /// Started, nothing heard yet (a server not yet answered, a receiver not yet sent to).
    Waiting,
    Connected,
    /// The last attempt failed with this error; the source keeps trying.
    Failing(String),
    /// A finite input (a replayed file, stdin) is exhausted.
    Ended,
}

/// One source's status, replaced whole on every report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    /// What the user configured, e.g. "otlp 127.0.0.1:4318", "prometheus", "events calls.jsonl".
    pub name: String,
    pub state: SourceState,
    /// Wall-clock time of the last record delivered.
    pub last_data: Option<DateTime<Utc>>,
    /// How far the newest record's own timestamp lags the wall clock at delivery.
    pub lag_ms: Option<i64>,
    /// Records delivered to the cockpit.
    pub received: u64,
    /// Records refused as malformed (bad JSON lines, undecodable bodies, spans missing a field).
    pub rejected: u64,
    /// Records lost to a full queue or refused with "retry later".
    pub dropped: u64,
    /// Records read and left out on purpose: spans that are not LLM calls (chains, tools, ...).
    pub skipped: u64,
    /// The last reason something was rejected or failed, kept after the source recovers.
    pub last_error: Option<String>,
}

impl SourceStatus {
    pub fn waiting(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: SourceState::Waiting,
            last_data: None,
            lag_ms: None,
            received: 0,
            rejected: 0,
            dropped: 0,
            skipped: 0,
            last_error: None,
        }
    }
}

/// One infrastructure query's latest answer (PromQL against a Prometheus-compatible API).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfraReading {
    /// The name the config gives the query, e.g. "openai 429 rate".
    pub name: String,
    pub query: String,
    /// How to print the value: "%", "s", "ms", "/s", or none.
    pub unit: Option<String>,
    /// The value at `at`; `None` when the query returned no series.
    pub value: Option<f64>,
    pub at: DateTime<Utc>,
    /// Samples over the configured range, oldest first, for the trend; empty for instant queries.
    pub range: Vec<(DateTime<Utc>, f64)>,
    /// Above this the reading counts as infrastructure evidence.
    pub warn_above: Option<f64>,
}

impl InfraReading {
    pub fn above_limit(&self) -> bool {
        matches!((self.value, self.warn_above), (Some(v), Some(limit)) if v > limit)
    }
}
