//! A span as every span source hands it to the mapping: the OTLP receiver (protobuf or JSON)
//! and Phoenix's REST API both convert theirs into a [`SpanRecord`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Attributes by their dotted key as sent. OTLP `AnyValue`s become JSON: int → i64 number,
/// double, bool, string, array, kvlist → object, bytes → base64 string.
pub type Attributes = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Lowercase hex.
    pub trace_id: String,
    /// Lowercase hex.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: SpanStatus,
    pub attributes: Attributes,
    /// The attributes of the process that sent the span (`service.name`, ...).
    pub resource: Attributes,
    pub events: Vec<SpanEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanStatus {
    Unset,
    Ok,
    Error { message: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub name: String,
    pub time: DateTime<Utc>,
    pub attributes: Attributes,
}

/// The attributes `PREFIX.N.REST`, by N (in numeric order) and then by REST: how OpenInference
/// flattens a list (`llm.input_messages.0.message.content`).
pub fn indexed<'a>(
    attributes: &'a Attributes,
    prefix: &str,
) -> BTreeMap<usize, BTreeMap<&'a str, &'a Value>> {
    let start = format!("{prefix}.");
    let mut items: BTreeMap<usize, BTreeMap<&str, &Value>> = BTreeMap::new();
    for (key, value) in attributes.range(start.clone()..) {
        let Some(tail) = key.strip_prefix(&start) else {
            break;
        };
        let Some((index, rest)) = tail.split_once('.') else {
            continue;
        };
        if let Ok(index) = index.parse() {
            items.entry(index).or_default().insert(rest, value);
        }
    }
    items
}
