//! One LLM call, as in the public JSONL contract (docs/events.md §1).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Eval;

mod deserialize;
use serde_json::Value;

/// Transport outcome of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Ok,
    Error,
    Timeout,
    RateLimited,
}

/// A user's thumbs on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    Up,
    Down,
}

/// An LLM call. Unknown fields are kept in `extra` so nothing a producer sends is lost.
/// Deserialized by hand ([`deserialize`]): `#[serde(flatten)]` would buffer every line twice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub ts: DateTime<Utc>,
    pub feature: String,
    pub model_requested: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_served: Option<String>,
    pub status: CallStatus,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub evals: BTreeMap<String, Eval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub should_answer: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_embedding: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_embedding: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Call {
    /// The evaluator's verdict as a boolean (see [`Eval::flag`]).
    pub fn eval_flag(&self, name: &str) -> Option<bool> {
        self.evals.get(name)?.flag()
    }

    /// A string attribute (`intent`, `source`, `tenant`, ...), if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    /// The model that actually answered: the served one when the provider said, else the requested one.
    pub fn model(&self) -> &str {
        self.model_served
            .as_deref()
            .unwrap_or(&self.model_requested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> &'static str {
        r#"{"ts":"2026-03-14T14:15:00+01:00","feature":"support-answer","model_requested":"gpt-4o","status":"ok","latency_ms":812}"#
    }

    #[test]
    fn parses_the_minimal_contract_and_stores_utc() {
        let call: Call = serde_json::from_str(minimal()).unwrap();
        assert_eq!(call.ts.to_rfc3339(), "2026-03-14T13:15:00+00:00");
        assert_eq!(call.status, CallStatus::Ok);
        assert_eq!(call.model(), "gpt-4o");
    }

    #[test]
    fn keeps_unknown_fields() {
        let line = minimal().replace('}', r#","team":"growth"}"#);
        let call: Call = serde_json::from_str(&line).unwrap();
        assert_eq!(call.extra["team"], "growth");
        let back = serde_json::to_string(&call).unwrap();
        assert!(back.contains(r#""team":"growth""#));
    }

    #[test]
    fn reads_evals_by_name() {
        let line = minimal().replace(
            '}',
            r#","evals":{"hallucination":{"score":0.9},"refusal":false}}"#,
        );
        let call: Call = serde_json::from_str(&line).unwrap();
        assert_eq!(call.eval_flag("hallucination"), Some(true));
        assert_eq!(call.eval_flag("refusal"), Some(false));
        assert_eq!(call.eval_flag("groundedness"), None);
    }

    #[test]
    fn rejects_an_unknown_status() {
        let line = minimal().replace(r#""ok""#, r#""weird""#);
        assert!(serde_json::from_str::<Call>(&line).is_err());
    }
}
