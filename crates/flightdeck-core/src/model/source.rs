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
    /// The value at `at`, summed over `series`; `None` when the query returned no series. May be
    /// NaN or infinite, as PromQL computes it (a ratio over no traffic is NaN).
    pub value: Option<f64>,
    /// When the value was evaluated; for a query that never answered, when it was last tried.
    pub at: DateTime<Utc>,
    /// Samples over the configured range, oldest first, for the trend; empty for instant queries.
    pub range: Vec<(DateTime<Utc>, f64)>,
    /// How many series the value sums: 0 for none, above 1 when the query returned several.
    pub series: usize,
    /// Above this the reading counts as infrastructure evidence.
    pub warn_above: Option<f64>,
    /// Why the last attempt failed; the value and range are then the last good ones (see `at`).
    pub error: Option<String>,
    /// What the server said may be wrong with a good answer, e.g. a partial response.
    pub warnings: Vec<String>,
}

impl InfraReading {
    pub fn above_limit(&self) -> bool {
        matches!((self.value, self.warn_above), (Some(v), Some(limit)) if v > limit)
    }

    /// A value of this query in its unit: "%" takes a share (0.05 → 5.0%).
    pub fn show(&self, value: Option<f64>) -> String {
        let Some(v) = value else {
            return "no data".into();
        };
        match self.unit.as_deref() {
            Some("%") => format!("{:.1}%", v * 100.0),
            Some(unit) => format!("{}{unit}", significant(v)),
            None => significant(v),
        }
    }
}

/// Three significant digits, without an exponent for ordinary magnitudes.
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

/// A replay's playback, as its source reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybackStatus {
    pub paused: bool,
    /// The onset the headless triage found in the recording, if any: where `o` jumps to.
    pub onset: Option<DateTime<Utc>>,
    /// Every record has been played.
    pub ended: bool,
}

/// A jump to the onset lands this long before it, so the alarm is seen to rise.
pub fn jump_lead() -> chrono::Duration {
    chrono::Duration::minutes(10)
}

/// What the user asks of a replay's playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackCommand {
    Pause,
    Resume,
    /// Play everything up to shortly before the onset at once.
    JumpToOnset,
}

/// Where Similarity and Input drift get their embeddings, when an endpoint is configured.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingsStatus {
    /// The configured `/v1/embeddings` endpoint answers.
    Endpoint,
    /// It failed, with this error: calls fall back to hashed n-grams until it answers again.
    Failing(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(unit: Option<&str>) -> InfraReading {
        InfraReading {
            name: "q".into(),
            query: "up".into(),
            unit: unit.map(str::to_string),
            value: None,
            at: DateTime::UNIX_EPOCH,
            range: Vec::new(),
            warn_above: None,
            series: 1,
            error: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn values_print_in_their_unit() {
        assert_eq!(reading(Some("%")).show(Some(0.0523)), "5.2%");
        assert_eq!(reading(Some("s")).show(Some(1.234)), "1.23s");
        assert_eq!(reading(None).show(Some(1234.0)), "1234");
        assert_eq!(reading(Some("/s")).show(Some(0.0012)), "0.00120/s");
        assert_eq!(reading(Some("s")).show(None), "no data");
    }
}
