//! Phoenix's span JSON (`GET /v1/projects/{project}/spans`) read as the [`SpanRecord`]s the OTLP
//! mapping takes, and the mark that keeps one poll from delivering a span another delivered.
//!
//! The endpoint lists spans newest first by Phoenix's row id (insertion order) on every Phoenix
//! that has it; `sort`/`order` exist only on recent ones. So a poll pages from the newest span
//! back to the last one it delivered, and the row id inside each span's Global ID is the mark.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::otel::{Attributes, SpanEvent, SpanRecord, SpanStatus};

/// Phoenix takes the span kind out of the attributes; the mapping reads it there.
const SPAN_KIND: &str = "openinference.span.kind";
/// What Phoenix reports for a span that named no kind: no kind to restore.
const UNKNOWN_KIND: &str = "UNKNOWN";
/// Phoenix keeps no resource; the project stands for the one the exporter sent.
const PROJECT: &str = "openinference.project.name";

/// One page of the spans endpoint as sent; spans stay JSON until each is read on its own, so
/// one bad span is rejected without losing the page.
#[derive(Debug, Deserialize)]
pub struct SpansPage {
    pub data: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// A page with each span's row read: what the mark needs.
#[derive(Debug)]
pub struct ListedPage {
    pub spans: Vec<ListedSpan>,
    pub next_cursor: Option<String>,
}

/// A span as listed, with the row id that orders it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedSpan {
    pub row: u64,
    pub json: Value,
}

/// A span whose `id` is not a Phoenix Span Global ID: the page cannot be placed against the mark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("span `id` {id:?} is not a Phoenix Span Global ID (base64 of \"Span:<row>\")")]
pub struct BadSpanId {
    pub id: String,
}

impl SpansPage {
    pub fn listed(self) -> Result<ListedPage, BadSpanId> {
        let spans = self
            .data
            .into_iter()
            .map(|json| {
                Ok(ListedSpan {
                    row: row_of(&json)?,
                    json,
                })
            })
            .collect::<Result<_, BadSpanId>>()?;
        Ok(ListedPage {
            spans,
            next_cursor: self.next_cursor,
        })
    }
}

/// The newest span delivered, by row id; `None` until the first span arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanMark {
    newest_row: Option<u64>,
}

/// What a page holds beyond the mark.
#[derive(Debug, PartialEq)]
pub struct NewSpans {
    /// Newer than the mark, in the page's order.
    pub spans: Vec<ListedSpan>,
    /// The page reached the mark: older pages hold nothing new.
    pub reached_mark: bool,
}

impl SpanMark {
    /// Whether spans were delivered yet; until then a poll reads back only a bounded window.
    pub fn is_set(&self) -> bool {
        self.newest_row.is_some()
    }

    /// The spans of a page newer than the mark.
    pub fn new_spans(&self, page: Vec<ListedSpan>) -> NewSpans {
        let before = page.len();
        let spans: Vec<ListedSpan> = page
            .into_iter()
            .filter(|span| self.newest_row.is_none_or(|newest| span.row > newest))
            .collect();
        NewSpans {
            reached_mark: spans.len() < before,
            spans,
        }
    }

    /// Moves the mark past the spans a poll delivered.
    pub fn advance(&mut self, delivered: &[ListedSpan]) {
        let newest = delivered.iter().map(|span| span.row).max();
        self.newest_row = self.newest_row.max(newest);
    }
}

fn row_of(json: &Value) -> Result<u64, BadSpanId> {
    let id = json.get("id").and_then(Value::as_str).unwrap_or_default();
    span_row(id).ok_or_else(|| BadSpanId { id: id.to_owned() })
}

/// The row id in a Relay Global ID: base64 of `Span:<row>`, padded or not.
fn span_row(global_id: &str) -> Option<u64> {
    let lenient = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = lenient.decode(global_id).ok()?;
    std::str::from_utf8(&decoded)
        .ok()?
        .strip_prefix("Span:")?
        .parse()
        .ok()
}

#[derive(Deserialize)]
struct PhoenixSpan {
    name: String,
    context: PhoenixContext,
    #[serde(default)]
    span_kind: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    start_time: String,
    end_time: String,
    status_code: String,
    #[serde(default)]
    status_message: String,
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    events: Vec<PhoenixEvent>,
}

#[derive(Deserialize)]
struct PhoenixContext {
    trace_id: String,
    span_id: String,
}

#[derive(Deserialize)]
struct PhoenixEvent {
    name: String,
    timestamp: String,
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// A Phoenix span as the mapping reads spans; `project` stands in for the resource Phoenix
/// does not keep. The error says which field is wrong.
pub fn span_record(json: Value, project: &str) -> Result<SpanRecord, String> {
    let span: PhoenixSpan = serde_json::from_value(json).map_err(|err| err.to_string())?;
    let start = time("start_time", &span.start_time)?;
    let end = time("end_time", &span.end_time)?;
    let events = span
        .events
        .into_iter()
        .map(|event| {
            Ok(SpanEvent {
                time: time("events.timestamp", &event.timestamp)?,
                name: event.name,
                attributes: flattened(event.attributes),
            })
        })
        .collect::<Result<_, String>>()?;
    let mut attributes = flattened(span.attributes);
    if let Some(kind) = span.span_kind.filter(|kind| kind != UNKNOWN_KIND) {
        attributes.insert(SPAN_KIND.into(), Value::String(kind));
    }
    let status = match span.status_code.as_str() {
        "OK" => SpanStatus::Ok,
        "ERROR" => SpanStatus::Error {
            message: Some(span.status_message).filter(|message| !message.is_empty()),
        },
        _ => SpanStatus::Unset,
    };
    Ok(SpanRecord {
        trace_id: span.context.trace_id.to_ascii_lowercase(),
        span_id: span.context.span_id.to_ascii_lowercase(),
        parent_span_id: span.parent_id.map(|id| id.to_ascii_lowercase()),
        name: span.name,
        start,
        end,
        status,
        attributes,
        resource: Attributes::from([(PROJECT.into(), Value::String(project.into()))]),
        events,
    })
}

fn time(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| format!("`{field}` {text:?} is not an RFC 3339 time: {err}"))
}

/// Nested objects as dotted keys (`{"llm": {"model_name": m}}` → `llm.model_name`), the way
/// OTLP exporters send them; lists stay values.
fn flattened(attributes: Map<String, Value>) -> Attributes {
    fn put(out: &mut Attributes, key: String, value: Value) {
        match value {
            Value::Object(fields) => {
                for (name, inner) in fields {
                    put(out, format!("{key}.{name}"), inner);
                }
            }
            other => {
                out.insert(key, other);
            }
        }
    }
    let mut out = Attributes::new();
    for (key, value) in attributes {
        put(&mut out, key, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A span as Phoenix 20 lists it (captured from a real server).
    fn llm_span(id: &str) -> Value {
        json!({
            "id": id,
            "name": "ChatCompletion",
            "context": {"trace_id": "E77CF5E7EBC34603AF74FFD9EBD4EB8C", "span_id": "5c70fd02a10711c5"},
            "span_kind": "LLM",
            "parent_id": "a1016b635478b4e9",
            "start_time": "2026-11-29T11:49:49.647158+00:00",
            "end_time": "2026-11-29T11:49:49.697356+00:00",
            "status_code": "ERROR",
            "status_message": "rate limited",
            "attributes": {
                "llm.model_name": "gpt-4o-2024-08-06",
                "llm.token_count.prompt": 120,
                "tags": ["a", "b"],
                "metadata": {"tenant": {"region": "eu"}}
            },
            "events": [{
                "name": "gen_ai.evaluation.result",
                "timestamp": "2026-11-29T11:49:49.647204+00:00",
                "attributes": {"gen_ai.evaluation.name": "hallucination"}
            }]
        })
    }

    fn rows(spans: &[ListedSpan]) -> Vec<u64> {
        spans.iter().map(|span| span.row).collect()
    }

    #[test]
    fn reads_the_row_from_padded_and_unpadded_global_ids() {
        assert_eq!(span_row("U3Bhbjox"), Some(1));
        assert_eq!(span_row("U3BhbjoxMA=="), Some(10));
        assert_eq!(span_row("U3BhbjoxMA"), Some(10));
        // "PromptVersion:1" is a Global ID, but not a span's.
        assert_eq!(span_row("UHJvbXB0VmVyc2lvbjox"), None);
        assert_eq!(span_row("not base64!"), None);
    }

    #[test]
    fn keeps_what_is_newer_than_the_mark_and_says_when_the_page_reached_it() {
        let page = |ids: &[&str]| {
            let data = ids.iter().map(|id| llm_span(id)).collect();
            let page = SpansPage {
                data,
                next_cursor: None,
            };
            page.listed().unwrap().spans
        };
        let mut mark = SpanMark::default();
        // Rows 3, 2, 1, newest first.
        let first = mark.new_spans(page(&["U3Bhbjoz", "U3Bhbjoy", "U3Bhbjox"]));
        assert_eq!(rows(&first.spans), [3, 2, 1]);
        assert!(!first.reached_mark);
        mark.advance(&first.spans);

        let next = mark.new_spans(page(&["U3Bhbjo1", "U3Bhbjo0", "U3Bhbjoz", "U3Bhbjoy"]));
        assert_eq!(rows(&next.spans), [5, 4]);
        assert!(next.reached_mark);
        mark.advance(&next.spans);
        assert_eq!(mark.new_spans(page(&["U3Bhbjo1"])).spans, []);
    }

    #[test]
    fn a_span_without_a_row_fails_the_page() {
        let mut span = llm_span("U3Bhbjox");
        span["id"] = json!("opaque");
        let page = SpansPage {
            data: vec![llm_span("U3Bhbjoy"), span],
            next_cursor: None,
        };
        let err = page.listed().unwrap_err();
        assert_eq!(err.id, "opaque");
    }

    #[test]
    fn reads_a_phoenix_span_as_a_span_record() {
        let record = span_record(llm_span("U3Bhbjox"), "support-answer").unwrap();
        assert_eq!(record.trace_id, "e77cf5e7ebc34603af74ffd9ebd4eb8c");
        assert_eq!(record.parent_span_id.as_deref(), Some("a1016b635478b4e9"));
        assert_eq!(
            record.status,
            SpanStatus::Error {
                message: Some("rate limited".into())
            }
        );
        assert_eq!((record.end - record.start).num_microseconds(), Some(50_198));
        assert_eq!(record.attributes[SPAN_KIND], "LLM");
        assert_eq!(record.attributes["llm.token_count.prompt"], 120);
        assert_eq!(record.attributes["tags"], json!(["a", "b"]));
        assert_eq!(record.attributes["metadata.tenant.region"], "eu");
        assert_eq!(record.resource[PROJECT], "support-answer");
        assert_eq!(
            record.events[0].attributes["gen_ai.evaluation.name"],
            "hallucination"
        );
    }

    #[test]
    fn an_unknown_kind_is_no_kind_and_a_blank_error_message_is_none() {
        let mut span = llm_span("U3Bhbjox");
        span["span_kind"] = json!("UNKNOWN");
        span["status_message"] = json!("");
        let record = span_record(span, "p").unwrap();
        assert!(!record.attributes.contains_key(SPAN_KIND));
        assert_eq!(record.status, SpanStatus::Error { message: None });
    }

    #[test]
    fn a_span_with_a_bad_time_is_an_error_naming_it() {
        let mut span = llm_span("U3Bhbjox");
        span["end_time"] = json!("yesterday");
        let err = span_record(span, "p").unwrap_err();
        assert!(err.starts_with("`end_time` \"yesterday\""), "{err}");
    }
}
