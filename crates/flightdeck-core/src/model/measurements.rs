//! What an incident keeps of the telemetry beside its timeline: each minute's metrics, and a few
//! of the calls that failed, so the postmortem states rates over windows and names examples.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One metric over one minute, in the cockpit's display units (Schema as the compliant share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricMinute {
    /// The minute's value; absent when no call carried the signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// For rates: the bad calls among the calls the signal applied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<u64>,
    /// The baseline the engine judged the metric against at the time, in the same units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
}

/// One line of `samples.jsonl`: one minute of the observed system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteSample {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// Calls counted in the minute (one in `stride` when the engine samples heavy traffic).
    pub calls: u64,
    #[serde(default = "one")]
    pub stride: u64,
    /// By metric key, e.g. `hallucination_rate`.
    pub metrics: BTreeMap<String, MetricMinute>,
}

fn one() -> u64 {
    1
}

/// One line of `examples.jsonl`: a call that failed during the incident, kept as it arrived so
/// the export's redaction rule can change afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingCall {
    pub ts: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub feature: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    /// The keys of the metrics it failed, e.g. `hallucination_rate`.
    pub failed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// What an incident keeps beside its timeline, one JSON line each.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Minute(MinuteSample),
    Example(FailingCall),
}
