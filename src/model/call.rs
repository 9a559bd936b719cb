//! One LLM call, as in the public JSONL contract (docs/events.md §1).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub ts: DateTime<Utc>,
    pub feature: String,
    pub model_requested: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_served: Option<String>,
    pub status: CallStatus,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evals: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_answer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Call {
    /// The evaluator's verdict as a boolean: `true`/`false`, a score ≥ 0.5, or a
    /// `{"score": x}` / `{"label": "..."}` object.
    pub fn eval_flag(&self, name: &str) -> Option<bool> {
        match self.evals.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_f64().map(|x| x >= 0.5),
            Value::Object(map) => {
                if let Some(score) = map.get("score").and_then(Value::as_f64) {
                    return Some(score >= 0.5);
                }
                let label = map.get("label")?.as_str()?.to_ascii_lowercase();
                match label.as_str() {
                    "true" | "yes" | "hallucinated" | "refused" | "fail" | "bad" => Some(true),
                    "false" | "no" | "factual" | "grounded" | "answered" | "pass" | "good" => {
                        Some(false)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
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
    fn eval_flag_reads_every_documented_shape() {
        let mut call: Call = serde_json::from_str(minimal()).unwrap();
        for (value, expected) in [
            (serde_json::json!(true), Some(true)),
            (serde_json::json!(0.2), Some(false)),
            (serde_json::json!({"score": 0.9}), Some(true)),
            (serde_json::json!({"label": "factual"}), Some(false)),
            (serde_json::json!("maybe"), None),
        ] {
            call.evals.insert("hallucination".into(), value);
            assert_eq!(call.eval_flag("hallucination"), expected);
        }
    }

    #[test]
    fn rejects_an_unknown_status() {
        let line = minimal().replace(r#""ok""#, r#""weird""#);
        assert!(serde_json::from_str::<Call>(&line).is_err());
    }
}
