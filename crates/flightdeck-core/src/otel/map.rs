//! The call a span describes, read with one table of which attribute carries which field in each
//! dialect: OpenTelemetry GenAI (current and pre-1.37 names) and OpenInference
//! (shared/EVENTS.md §3, docs/otlp.md).

use std::collections::BTreeMap;

use serde_json::Value;

use super::evaluation::{self, FieldProblem};
use super::messages::{self, Pick};
use super::span::{Attributes, SpanEvent, SpanRecord, SpanStatus, indexed};
use crate::model::{Call, CallStatus, Feedback};

/// A field of the call contract read from one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ModelRequested,
    ModelServed,
    Provider,
    TokensIn,
    TokensOut,
    FinishReason,
    PromptId,
    PromptVersion,
    ResponseId,
    ErrorType,
    HttpStatus,
    OutputSchema,
    ShouldAnswer,
    Feedback,
}

/// A field and the span attributes that carry it, first found wins: OTel GenAI current names,
/// then older ones, then OpenInference's.
struct Row {
    field: Field,
    keys: &'static [&'static str],
}

const TABLE: &[Row] = &[
    Row {
        field: Field::ModelRequested,
        keys: &[
            "gen_ai.request.model",
            "llm.request.model_name",
            "llm.model_name",
        ],
    },
    Row {
        field: Field::ModelServed,
        keys: &["gen_ai.response.model", "llm.response.model_name"],
    },
    Row {
        field: Field::Provider,
        keys: &[
            "gen_ai.provider.name",
            "gen_ai.system",
            "llm.provider",
            "llm.system",
        ],
    },
    Row {
        field: Field::TokensIn,
        keys: &[
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
        ],
    },
    Row {
        field: Field::TokensOut,
        keys: &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        ],
    },
    Row {
        field: Field::FinishReason,
        keys: &["gen_ai.response.finish_reasons", "llm.finish_reason"],
    },
    Row {
        field: Field::PromptId,
        keys: &[
            "gen_ai.prompt.name",
            "prompt.id",
            "llm.prompt_template.name",
        ],
    },
    Row {
        field: Field::PromptVersion,
        keys: &["gen_ai.prompt.version", "llm.prompt_template.version"],
    },
    Row {
        field: Field::ResponseId,
        keys: &["gen_ai.response.id"],
    },
    Row {
        field: Field::ErrorType,
        keys: &["error.type"],
    },
    Row {
        field: Field::HttpStatus,
        keys: &["http.response.status_code", "http.status_code"],
    },
    // flightdeck's own attributes, for apps that know these facts about a call.
    Row {
        field: Field::OutputSchema,
        keys: &["output_schema"],
    },
    Row {
        field: Field::ShouldAnswer,
        keys: &["should_answer"],
    },
    Row {
        field: Field::Feedback,
        keys: &["feedback", "user.feedback"],
    },
];

/// The span attribute that names the call's feature, before the resource's.
const FEATURE: &str = "feature";
/// OpenInference's project, on the resource (or the span), names the feature next.
const PROJECT: &str = "openinference.project.name";
const SERVICE: &str = "service.name";
/// The model attribute a missing model is reported as: the one current exporters send.
const MODEL: &str = "gen_ai.request.model";
const SPAN_KIND: &str = "openinference.span.kind";
const OPERATION: &str = "gen_ai.operation.name";
/// GenAI operations that are one model call; agents, tools and embeddings are not.
const LLM_OPERATIONS: &[&str] = &["chat", "text_completion", "generate_content", "completion"];
const CONTEXT: &str = "context";
const DOCUMENTS: &str = "retrieval.documents";

/// Attribute prefixes that are never a segment to split calls by: the dialects' own, transport
/// details, and ids.
const NOT_SEGMENTS: &[&str] = &[
    "gen_ai.",
    "llm.",
    "openinference.",
    "input.",
    "output.",
    "retrieval.",
    "embedding.",
    "tool.",
    "prompt.",
    "metadata",
    "tag.",
    "session.",
    "user.",
    "http.",
    "url.",
    "server.",
    "client.",
    "network.",
    "net.",
    "error.",
    "exception.",
    "code.",
    "thread.",
    "otel.",
    "telemetry.",
];
/// Longer strings are texts or payloads, not segments.
const MAX_SEGMENT_CHARS: usize = 128;

#[derive(Debug)]
pub enum Mapped {
    Call(Box<Call>),
    NotAnLlmCall,
}

/// An LLM span that cannot be read as a call: the span, the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("span {span_id} \"{span_name}\": `{field}` {problem}")]
pub struct MapError {
    pub span_id: String,
    pub span_name: String,
    pub field: String,
    pub problem: String,
}

/// The call a span describes. A span that is not an LLM call (an OpenInference kind other than
/// LLM, a GenAI operation other than a completion, or no model attribute at all) is
/// `NotAnLlmCall`; an LLM span missing something required is an error naming the field.
pub fn call_from_span(span: &SpanRecord) -> Result<Mapped, MapError> {
    if !is_llm_call(&span.attributes) {
        return Ok(Mapped::NotAnLlmCall);
    }
    read_call(span)
        .map(|call| Mapped::Call(Box::new(call)))
        .map_err(|problem| MapError {
            span_id: span.span_id.clone(),
            span_name: span.name.clone(),
            field: problem.field,
            problem: problem.problem,
        })
}

/// Whether a span with these attributes is one model call.
pub fn is_llm_call(attributes: &Attributes) -> bool {
    if let Some(kind) = attributes.get(SPAN_KIND).and_then(Value::as_str) {
        return kind.eq_ignore_ascii_case("llm");
    }
    if let Some(operation) = attributes.get(OPERATION).and_then(Value::as_str) {
        return LLM_OPERATIONS.contains(&operation);
    }
    lookup(attributes, Field::ModelRequested).is_some()
        || lookup(attributes, Field::ModelServed).is_some()
}

fn read_call(span: &SpanRecord) -> Result<Call, FieldProblem> {
    let attributes = &span.attributes;
    let label =
        |field| lookup(attributes, field).map_or(Ok(None), |(key, value)| label(key, value));
    let count =
        |field| lookup(attributes, field).map_or(Ok(None), |(key, value)| count(key, value));

    let model_served = label(Field::ModelServed)?;
    // A span that only says which model answered still names the model the call was for.
    let model_requested = label(Field::ModelRequested)?
        .or_else(|| model_served.clone())
        .ok_or_else(|| {
            FieldProblem::new(
                MODEL,
                "is missing, and so are gen_ai.response.model and OpenInference's llm.model_name",
            )
        })?;
    let latency = span.end - span.start;
    if latency < chrono::TimeDelta::zero() {
        return Err(FieldProblem::new(
            "end_time",
            format!("({}) is before start_time ({})", span.end, span.start),
        ));
    }
    let http_status = lookup(attributes, Field::HttpStatus)
        .map(|(key, value)| match self::count(key, value)? {
            Some(code) => u16::try_from(code)
                .map(Some)
                .map_err(|_| FieldProblem::new(key, format!("{code} is not an HTTP status"))),
            None => Ok(None),
        })
        .transpose()?
        .flatten();
    let error_type = label(Field::ErrorType)?;
    Ok(Call {
        ts: span.end,
        feature: feature(span)?,
        model_requested,
        model_served,
        status: status(span, error_type.as_deref(), http_status),
        latency_ms: latency
            .num_microseconds()
            .map_or(f64::MAX, |us| us as f64 / 1000.0),
        request_id: Some(label(Field::ResponseId)?.unwrap_or_else(|| span.span_id.clone())),
        provider: label(Field::Provider)?,
        prompt_id: label(Field::PromptId)?,
        prompt_version: label(Field::PromptVersion)?,
        input: messages::text(span, messages::INPUT, Pick::Last),
        output: messages::text(span, messages::OUTPUT, Pick::First),
        context: context(attributes)?,
        output_schema: label(Field::OutputSchema)?,
        http_status,
        finish_reason: label(Field::FinishReason)?,
        tokens_in: count(Field::TokensIn)?,
        tokens_out: count(Field::TokensOut)?,
        evals: evaluation::span_evals(span)?,
        feedback: lookup(attributes, Field::Feedback)
            .map(|(key, value)| feedback(key, value))
            .transpose()?,
        should_answer: lookup(attributes, Field::ShouldAnswer)
            .map(|(key, value)| flag(key, value))
            .transpose()?,
        input_embedding: None,
        output_embedding: None,
        attributes: segments(attributes),
        extra: BTreeMap::new(),
    })
}

/// The first attribute of the field's row that is present, with its key.
fn lookup(attributes: &Attributes, field: Field) -> Option<(&'static str, &Value)> {
    let row = TABLE.iter().find(|row| row.field == field)?;
    row.keys.iter().find_map(|key| {
        attributes
            .get(*key)
            .filter(|v| !v.is_null())
            .map(|v| (*key, v))
    })
}

fn named<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes
        .get(key)
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

fn feature(span: &SpanRecord) -> Result<String, FieldProblem> {
    named(&span.attributes, FEATURE)
        .or_else(|| named(&span.resource, FEATURE))
        .or_else(|| named(&span.attributes, PROJECT))
        .or_else(|| named(&span.resource, PROJECT))
        .or_else(|| named(&span.resource, SERVICE))
        .map(str::to_owned)
        .ok_or_else(|| {
            FieldProblem::new(
                FEATURE,
                format!("is missing, and so are {PROJECT} and the resource's {SERVICE}"),
            )
        })
}

/// The transport outcome: a span marked Ok succeeded; one marked Error, carrying `error.type`,
/// or answered with an HTTP error failed, and the error's type or code says how.
fn status(span: &SpanRecord, error_type: Option<&str>, http_status: Option<u16>) -> CallStatus {
    let failed = match span.status {
        SpanStatus::Ok => false,
        SpanStatus::Error { .. } => true,
        SpanStatus::Unset => error_type.is_some() || http_status.is_some_and(|code| code >= 400),
    };
    if !failed {
        return CallStatus::Ok;
    }
    let exception_type = span
        .events
        .iter()
        .filter(|event| event.name == "exception")
        .find_map(|event: &SpanEvent| event.attributes.get("exception.type")?.as_str());
    let message = match &span.status {
        SpanStatus::Error { message } => message.as_deref(),
        _ => None,
    };
    let said = [error_type, exception_type, message]
        .into_iter()
        .flatten()
        .map(|text| text.to_ascii_lowercase().replace(['_', '-', ' ', '.'], ""))
        .collect::<Vec<_>>();
    let says = |word: &str| said.iter().any(|text| text.contains(word));
    if says("timeout") || says("timedout") || matches!(http_status, Some(408 | 504)) {
        CallStatus::Timeout
    } else if says("429")
        || says("ratelimit")
        || says("toomanyrequests")
        || http_status == Some(429)
    {
        CallStatus::RateLimited
    } else {
        CallStatus::Error
    }
}

/// Retrieved passages: OpenInference documents, else a `context` attribute (a list of strings
/// or a JSON string holding one).
fn context(attributes: &Attributes) -> Result<Option<Vec<String>>, FieldProblem> {
    let documents: Vec<String> = indexed(attributes, DOCUMENTS)
        .values()
        .filter_map(|fields| fields.get("document.content")?.as_str().map(str::to_owned))
        .collect();
    if !documents.is_empty() {
        return Ok(Some(documents));
    }
    let Some(value) = attributes.get(CONTEXT) else {
        return Ok(None);
    };
    let list = match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| FieldProblem::new(CONTEXT, "holds something other than strings"))?,
        other => {
            return Err(FieldProblem::new(
                CONTEXT,
                format!("is {other}, not a list of strings"),
            ));
        }
    };
    Ok(Some(list))
}

/// Short string attributes outside the dialects' namespaces, to segment calls by (intent,
/// tenant, region, ...).
fn segments(attributes: &Attributes) -> BTreeMap<String, Value> {
    attributes
        .iter()
        .filter(|(key, value)| {
            value
                .as_str()
                .is_some_and(|text| text.chars().count() <= MAX_SEGMENT_CHARS)
                && !NOT_SEGMENTS.iter().any(|prefix| key.starts_with(prefix))
                && !key.ends_with(".id")
                && !key.ends_with("_id")
                && key.as_str() != FEATURE
                && !TABLE.iter().any(|row| row.keys.contains(&key.as_str()))
                && !messages::reads_key(key)
                && !evaluation::is_evaluation_key(key)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// A name or version: a string, a number or bool written as text, or a list's first element
/// (`gen_ai.response.finish_reasons`). An empty string or list reads as absent.
fn label(key: &str, value: &Value) -> Result<Option<String>, FieldProblem> {
    match value {
        Value::String(text) => Ok((!text.is_empty()).then(|| text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(flag) => Ok(Some(flag.to_string())),
        Value::Array(items) => items.first().map_or(Ok(None), |first| label(key, first)),
        Value::Null => Ok(None),
        Value::Object(_) => Err(FieldProblem::new(key, "is an object, not a string")),
    }
}

/// A count: a non-negative integer, also sent as a whole double or a numeric string.
fn count(key: &str, value: &Value) -> Result<Option<u64>, FieldProblem> {
    let number = match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| n as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        Value::Null => return Ok(None),
        _ => None,
    };
    number
        .map(Some)
        .ok_or_else(|| FieldProblem::new(key, format!("is {value}, not a non-negative integer")))
}

fn flag(key: &str, value: &Value) -> Result<bool, FieldProblem> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(FieldProblem::new(
            key,
            format!("is {other}, not true or false"),
        )),
    }
}

fn feedback(key: &str, value: &Value) -> Result<Feedback, FieldProblem> {
    let text = value.as_str().unwrap_or_default().to_ascii_lowercase();
    match text.as_str() {
        "up" | "thumbs_up" | "positive" => Ok(Feedback::Up),
        "down" | "thumbs_down" | "negative" => Ok(Feedback::Down),
        _ => Err(FieldProblem::new(
            key,
            format!("is {value}, not \"up\" or \"down\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use serde_json::json;

    use super::*;
    use crate::model::Eval;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-14T13:15:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::milliseconds(ms)
    }

    fn span(attributes: &[(&str, Value)]) -> SpanRecord {
        SpanRecord {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            parent_span_id: None,
            name: "chat gpt-4o".into(),
            start: at(0),
            end: at(812),
            status: SpanStatus::Unset,
            attributes: attributes
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
            resource: Attributes::from([(SERVICE.to_owned(), json!("support-answer"))]),
            events: Vec::new(),
        }
    }

    fn event(name: &str, attributes: &[(&str, Value)]) -> SpanEvent {
        SpanEvent {
            name: name.into(),
            time: at(800),
            attributes: attributes
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        }
    }

    fn call(span: &SpanRecord) -> Call {
        match call_from_span(span) {
            Ok(Mapped::Call(call)) => *call,
            other => panic!("expected a call from {span:?}, got {other:?}"),
        }
    }

    /// The call as its JSONL line would say it, to compare fields by their contract names.
    fn contract(span: &SpanRecord) -> Value {
        serde_json::to_value(call(span)).unwrap()
    }

    #[derive(Clone, Copy, Debug)]
    enum Dialect {
        Current,
        Older,
        OpenInference,
    }

    /// Attributes that make a span an LLM call in the dialect, besides the one under test.
    fn base(dialect: Dialect) -> Vec<(&'static str, Value)> {
        match dialect {
            Dialect::Current | Dialect::Older => {
                vec![
                    ("gen_ai.operation.name", json!("chat")),
                    ("gen_ai.request.model", json!("gpt-4o")),
                ]
            }
            Dialect::OpenInference => {
                vec![
                    (SPAN_KIND, json!("LLM")),
                    ("llm.model_name", json!("gpt-4o")),
                ]
            }
        }
    }

    #[test]
    fn every_attribute_row_of_the_mapping_table_in_each_dialect() {
        use Dialect::*;
        let rows: &[(Dialect, &str, Value, &str, Value)] = &[
            (
                Current,
                "gen_ai.request.model",
                json!("gpt-4o-mini"),
                "model_requested",
                json!("gpt-4o-mini"),
            ),
            (
                OpenInference,
                "llm.request.model_name",
                json!("gpt-4o-mini"),
                "model_requested",
                json!("gpt-4o-mini"),
            ),
            (
                Current,
                "gen_ai.response.model",
                json!("gpt-4o-2024-08-06"),
                "model_served",
                json!("gpt-4o-2024-08-06"),
            ),
            (
                OpenInference,
                "llm.response.model_name",
                json!("gpt-4o-2024-08-06"),
                "model_served",
                json!("gpt-4o-2024-08-06"),
            ),
            (
                Current,
                "gen_ai.provider.name",
                json!("openai"),
                "provider",
                json!("openai"),
            ),
            (
                Older,
                "gen_ai.system",
                json!("openai"),
                "provider",
                json!("openai"),
            ),
            (
                OpenInference,
                "llm.provider",
                json!("openai"),
                "provider",
                json!("openai"),
            ),
            (
                OpenInference,
                "llm.system",
                json!("openai"),
                "provider",
                json!("openai"),
            ),
            (
                Current,
                "gen_ai.usage.input_tokens",
                json!(412),
                "tokens_in",
                json!(412),
            ),
            (
                Older,
                "gen_ai.usage.prompt_tokens",
                json!(412),
                "tokens_in",
                json!(412),
            ),
            (
                OpenInference,
                "llm.token_count.prompt",
                json!(412),
                "tokens_in",
                json!(412),
            ),
            (
                Current,
                "gen_ai.usage.output_tokens",
                json!(96),
                "tokens_out",
                json!(96),
            ),
            (
                Older,
                "gen_ai.usage.completion_tokens",
                json!(96),
                "tokens_out",
                json!(96),
            ),
            (
                OpenInference,
                "llm.token_count.completion",
                json!(96),
                "tokens_out",
                json!(96),
            ),
            (
                Current,
                "gen_ai.response.finish_reasons",
                json!(["length"]),
                "finish_reason",
                json!("length"),
            ),
            (
                OpenInference,
                "llm.finish_reason",
                json!("stop"),
                "finish_reason",
                json!("stop"),
            ),
            (
                Current,
                "gen_ai.prompt.name",
                json!("support-answer"),
                "prompt_id",
                json!("support-answer"),
            ),
            (
                OpenInference,
                "prompt.id",
                json!("support-answer"),
                "prompt_id",
                json!("support-answer"),
            ),
            (
                Current,
                "gen_ai.prompt.version",
                json!("v8"),
                "prompt_version",
                json!("v8"),
            ),
            (
                OpenInference,
                "llm.prompt_template.version",
                json!("v8"),
                "prompt_version",
                json!("v8"),
            ),
            (
                Current,
                "gen_ai.input.messages",
                json!(
                    r#"[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]"#
                ),
                "input",
                json!("Where is my order?"),
            ),
            (
                Current,
                "gen_ai.output.messages",
                json!(
                    r#"[{"role":"assistant","parts":[{"type":"text","content":"It ships today."}],"finish_reason":"stop"}]"#
                ),
                "output",
                json!("It ships today."),
            ),
            (
                OpenInference,
                "input.value",
                json!("Where is my order?"),
                "input",
                json!("Where is my order?"),
            ),
            (
                OpenInference,
                "output.value",
                json!("It ships today."),
                "output",
                json!("It ships today."),
            ),
            (
                OpenInference,
                "llm.input_messages.1.message.content",
                json!("Where is my order?"),
                "input",
                json!("Where is my order?"),
            ),
            (
                OpenInference,
                "llm.output_messages.0.message.content",
                json!("It ships today."),
                "output",
                json!("It ships today."),
            ),
            (
                Current,
                "error.type",
                json!("timeout"),
                "status",
                json!("timeout"),
            ),
            (
                Current,
                "error.type",
                json!("429"),
                "status",
                json!("rate_limited"),
            ),
            (
                Current,
                "error.type",
                json!("openai.RateLimitError"),
                "status",
                json!("rate_limited"),
            ),
            (
                Current,
                "error.type",
                json!("openai.APIConnectionError"),
                "status",
                json!("error"),
            ),
            (
                Current,
                "http.response.status_code",
                json!(429),
                "http_status",
                json!(429),
            ),
            (
                Current,
                "feature",
                json!("refund-bot"),
                "feature",
                json!("refund-bot"),
            ),
            (
                OpenInference,
                PROJECT,
                json!("refund-bot"),
                "feature",
                json!("refund-bot"),
            ),
            (
                Current,
                "gen_ai.response.id",
                json!("chatcmpl-9"),
                "request_id",
                json!("chatcmpl-9"),
            ),
            (
                Current,
                "output_schema",
                json!("support_answer"),
                "output_schema",
                json!("support_answer"),
            ),
            (
                Current,
                "should_answer",
                json!(true),
                "should_answer",
                json!(true),
            ),
            (
                Current,
                "user.feedback",
                json!("down"),
                "feedback",
                json!("down"),
            ),
            (
                OpenInference,
                "retrieval.documents.0.document.content",
                json!("[kb-1] Refunds take 5 days."),
                "context",
                json!(["[kb-1] Refunds take 5 days."]),
            ),
            (
                Current,
                "intent",
                json!("refund"),
                "attributes",
                json!({"intent": "refund"}),
            ),
        ];
        for (dialect, key, value, field, expected) in rows {
            let mut attributes = base(*dialect);
            attributes.retain(|(k, _)| k != key);
            attributes.push((key, value.clone()));
            let got = &contract(&span(&attributes))[field];
            assert_eq!(got, expected, "{dialect:?} {key} = {value} → {field}");
        }
    }

    #[test]
    fn the_older_genai_events_give_input_and_output() {
        let mut span = span(&base(Dialect::Older));
        span.events = vec![
            event(
                "gen_ai.user.message",
                &[("content", json!("first question"))],
            ),
            event(
                "gen_ai.user.message",
                &[("content", json!("Where is my order?"))],
            ),
            event(
                "gen_ai.choice",
                &[(
                    "message",
                    json!(r#"{"role":"assistant","content":"It ships today."}"#),
                )],
            ),
        ];
        let call = call(&span);
        assert_eq!(call.input.as_deref(), Some("Where is my order?"));
        assert_eq!(call.output.as_deref(), Some("It ships today."));
    }

    #[test]
    fn openinference_messages_in_parts_and_the_last_user_turn() {
        let span = span(&[
            (SPAN_KIND, json!("LLM")),
            ("llm.model_name", json!("gpt-4o")),
            ("llm.input_messages.0.message.role", json!("user")),
            ("llm.input_messages.0.message.content", json!("earlier")),
            ("llm.input_messages.1.message.role", json!("assistant")),
            ("llm.input_messages.1.message.content", json!("an answer")),
            ("llm.input_messages.2.message.role", json!("user")),
            (
                "llm.input_messages.2.message.contents.0.message_content.text",
                json!("Where is"),
            ),
            (
                "llm.input_messages.2.message.contents.1.message_content.text",
                json!("my order?"),
            ),
            ("input.value", json!(r#"{"messages": "the raw request"}"#)),
        ]);
        assert_eq!(call(&span).input.as_deref(), Some("Where is\nmy order?"));
    }

    #[test]
    fn current_names_win_over_older_ones() {
        let span = span(&[
            ("gen_ai.request.model", json!("gpt-4o")),
            ("gen_ai.provider.name", json!("azure.ai.openai")),
            ("gen_ai.system", json!("openai")),
            ("gen_ai.usage.input_tokens", json!(10)),
            ("gen_ai.usage.prompt_tokens", json!(99)),
        ]);
        let call = call(&span);
        assert_eq!(call.provider.as_deref(), Some("azure.ai.openai"));
        assert_eq!(call.tokens_in, Some(10));
    }

    #[test]
    fn the_call_takes_its_time_latency_and_id_from_the_span() {
        let call = call(&span(&base(Dialect::Current)));
        assert_eq!(call.ts, at(812));
        assert_eq!(call.latency_ms, 812.0);
        assert_eq!(call.request_id.as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(call.feature, "support-answer");
        assert_eq!(call.status, CallStatus::Ok);
    }

    #[test]
    fn status_from_the_span_status_error_type_and_exception() {
        let cases = [
            (
                SpanStatus::Error { message: None },
                None,
                None,
                CallStatus::Error,
            ),
            (
                SpanStatus::Error {
                    message: Some("Request timed out.".into()),
                },
                None,
                None,
                CallStatus::Timeout,
            ),
            (
                SpanStatus::Error { message: None },
                Some("httpx.ReadTimeout"),
                None,
                CallStatus::Timeout,
            ),
            (
                SpanStatus::Error { message: None },
                None,
                Some("openai.RateLimitError"),
                CallStatus::RateLimited,
            ),
            (SpanStatus::Unset, Some("_OTHER"), None, CallStatus::Error),
            (SpanStatus::Ok, None, None, CallStatus::Ok),
        ];
        for (status, error_type, exception, expected) in cases {
            let mut attributes = base(Dialect::Current);
            if let Some(error_type) = error_type {
                attributes.push(("error.type", json!(error_type)));
            }
            let mut span = span(&attributes);
            span.status = status.clone();
            if let Some(exception) = exception {
                span.events
                    .push(event("exception", &[("exception.type", json!(exception))]));
            }
            assert_eq!(
                call(&span).status,
                expected,
                "{status:?} {error_type:?} {exception:?}"
            );
        }
        let mut unset_504 = base(Dialect::Current);
        unset_504.push(("http.response.status_code", json!("504")));
        assert_eq!(call(&span(&unset_504)).status, CallStatus::Timeout);
    }

    #[test]
    fn evals_from_span_events_annotations_and_evaluation_attributes() {
        let mut attributes = base(Dialect::Current);
        attributes.extend([
            ("annotations.0.annotation.name", json!("groundedness")),
            ("annotations.0.annotation.score", json!(0.4)),
            ("evaluation.refusal.label", json!("answered")),
        ]);
        let mut span = span(&attributes);
        span.events.push(event(
            evaluation::EVALUATION_RESULT,
            &[
                ("gen_ai.evaluation.name", json!("hallucination")),
                ("gen_ai.evaluation.score.value", json!(0.9)),
                ("gen_ai.evaluation.score.label", json!("hallucinated")),
                ("gen_ai.evaluation.explanation", json!("cites kb-9")),
            ],
        ));
        let evals = call(&span).evals;
        assert_eq!(
            serde_json::to_value(&evals).unwrap(),
            json!({
                "hallucination": {"score": 0.9, "label": "hallucinated", "explanation": "cites kb-9"},
                "groundedness": {"score": 0.4},
                "refusal": {"label": "answered"},
            })
        );
        assert_eq!(evals["hallucination"].flag(), Some(true));
        assert!(matches!(evals["refusal"], Eval::Graded { .. }));
    }

    #[test]
    fn spans_that_are_not_model_calls_are_passed_over() {
        for attributes in [
            vec![
                (SPAN_KIND, json!("CHAIN")),
                ("llm.model_name", json!("gpt-4o")),
            ],
            vec![
                (OPERATION, json!("embeddings")),
                ("gen_ai.request.model", json!("text-embedding-3-small")),
            ],
            vec![
                (OPERATION, json!("invoke_agent")),
                ("gen_ai.request.model", json!("gpt-4o")),
            ],
            vec![("http.request.method", json!("POST"))],
        ] {
            assert!(
                matches!(call_from_span(&span(&attributes)), Ok(Mapped::NotAnLlmCall)),
                "{attributes:?}"
            );
        }
    }

    #[test]
    fn an_llm_span_without_what_a_call_needs_is_an_error_naming_span_and_field() {
        let cases: &[(Vec<(&str, Value)>, &str)] = &[
            (vec![(OPERATION, json!("chat"))], "gen_ai.request.model"),
            (vec![(SPAN_KIND, json!("LLM"))], "gen_ai.request.model"),
            (
                [
                    base(Dialect::Current),
                    vec![("gen_ai.usage.output_tokens", json!("many"))],
                ]
                .concat(),
                "gen_ai.usage.output_tokens",
            ),
            (
                [base(Dialect::Current), vec![("feedback", json!("meh"))]].concat(),
                "feedback",
            ),
        ];
        for (attributes, field) in cases {
            let error = match call_from_span(&span(attributes)) {
                Err(error) => error,
                other => panic!("expected an error for {attributes:?}, got {other:?}"),
            };
            assert_eq!(error.field, *field);
            let message = error.to_string();
            assert!(
                message.contains("b7ad6b7169203331") && message.contains(field),
                "{message}"
            );
        }
    }

    #[test]
    fn a_span_ending_before_it_starts_is_an_error() {
        let mut span = span(&base(Dialect::Current));
        span.end = at(-5);
        assert_eq!(call_from_span(&span).unwrap_err().field, "end_time");
    }

    #[test]
    fn a_call_without_a_feature_anywhere_is_an_error() {
        let mut span = span(&base(Dialect::Current));
        span.resource.clear();
        assert_eq!(call_from_span(&span).unwrap_err().field, "feature");
    }

    #[test]
    fn an_evaluation_event_without_a_name_is_an_error() {
        let mut span = span(&base(Dialect::Current));
        span.events.push(event(
            evaluation::EVALUATION_RESULT,
            &[("gen_ai.evaluation.score.value", json!(1))],
        ));
        assert_eq!(
            call_from_span(&span).unwrap_err().field,
            "gen_ai.evaluation.name"
        );
    }

    #[test]
    fn only_short_strings_outside_the_dialects_become_segments() {
        let mut attributes = base(Dialect::Current);
        attributes.extend([
            ("intent", json!("refund")),
            ("tenant", json!("acme")),
            ("feature", json!("support-answer")),
            ("retries", json!(2)),
            ("conversation_id", json!("c-1")),
            ("user.id", json!("u-1")),
            ("http.request.method", json!("POST")),
            ("notes", json!("x".repeat(500))),
        ]);
        let call = call(&span(&attributes));
        assert_eq!(
            serde_json::to_value(&call.attributes).unwrap(),
            json!({"intent": "refund", "tenant": "acme"})
        );
    }
}
