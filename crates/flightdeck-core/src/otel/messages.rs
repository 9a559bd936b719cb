//! The text of a call's input and output, from wherever a dialect puts its messages: GenAI
//! message arrays (`gen_ai.input.messages`), older GenAI span events (`gen_ai.user.message`,
//! `gen_ai.choice`), OpenInference flattened messages (`llm.input_messages.N.message.content`)
//! and plain values (`input.value`).

use serde_json::Value;

use super::evaluation::LogRecord;
use super::span::{Attributes, SpanRecord, indexed};

/// Which message of several is the call's: the last user turn is what was asked now; the first
/// choice is what was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Last,
    First,
}

impl Pick {
    fn from<T>(self, mut items: impl Iterator<Item = T>) -> Option<T> {
        match self {
            Self::First => items.next(),
            Self::Last => items.last(),
        }
    }
}

/// One place a dialect puts a call's input or output text.
#[derive(Debug, Clone, Copy)]
pub enum TextSource {
    /// A JSON array of messages (`[{"role", "parts": [{"type": "text", "content"}]}]`), as a
    /// JSON string or a structured value; `roles` empty takes any role.
    Messages {
        key: &'static str,
        roles: &'static [&'static str],
    },
    /// A span event whose attributes carry the text (a string or a JSON message).
    Event {
        name: &'static str,
        keys: &'static [&'static str],
    },
    /// `PREFIX.N.message.role` and `.message.content` (or
    /// `.message.contents.M.message_content.text`).
    Indexed {
        prefix: &'static str,
        roles: &'static [&'static str],
    },
    /// A plain attribute holding the text.
    Plain(&'static str),
}

/// Where the input text comes from, first found wins.
pub const INPUT: &[TextSource] = &[
    TextSource::Messages {
        key: "gen_ai.input.messages",
        roles: &["user"],
    },
    TextSource::Event {
        name: "gen_ai.user.message",
        keys: &["content", "gen_ai.event.content"],
    },
    TextSource::Event {
        name: "gen_ai.content.prompt",
        keys: &["gen_ai.prompt"],
    },
    TextSource::Indexed {
        prefix: "llm.input_messages",
        roles: &["user"],
    },
    TextSource::Plain("input.value"),
];

/// Where the output text comes from, first found wins.
pub const OUTPUT: &[TextSource] = &[
    TextSource::Messages {
        key: "gen_ai.output.messages",
        roles: &[],
    },
    TextSource::Event {
        name: "gen_ai.choice",
        keys: &["message", "content", "gen_ai.event.content"],
    },
    TextSource::Event {
        name: "gen_ai.content.completion",
        keys: &["gen_ai.completion"],
    },
    TextSource::Indexed {
        prefix: "llm.output_messages",
        roles: &[],
    },
    TextSource::Plain("output.value"),
];

/// The text of the first source in `sources` that has one.
pub fn text(span: &SpanRecord, sources: &[TextSource], pick: Pick) -> Option<String> {
    sources
        .iter()
        .find_map(|source| text_from(span, *source, pick))
}

/// Keys that a text source reads, so they are not also copied into the call's attributes.
pub fn reads_key(key: &str) -> bool {
    INPUT.iter().chain(OUTPUT).any(|source| match source {
        TextSource::Messages { key: k, .. } | TextSource::Plain(k) => *k == key,
        TextSource::Indexed { prefix, .. } => key.starts_with(prefix),
        TextSource::Event { .. } => false,
    })
}

/// Which part of a call a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

/// An older GenAI message event sent as a log record (`gen_ai.user.message`, `gen_ai.choice`, as
/// opentelemetry-instrumentation-openai-v2 sends them): text for its span's call.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMessage {
    pub trace_id: String,
    pub span_id: String,
    pub event: String,
    pub side: Side,
    pub text: String,
}

/// A message event log record that names no span, so no call to give its text to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} log record names no span: it needs its call's trace_id and span_id")]
pub struct NoSpan {
    pub event: String,
}

/// What a log record adds to its call's input or output: `None` for a record that is not an
/// input or output event, or one without text (content capture off).
pub fn message_from_log(record: &LogRecord) -> Result<Option<LogMessage>, NoSpan> {
    let Some(event) = record.event() else {
        return Ok(None);
    };
    let event_keys = |sources: &[TextSource]| {
        sources.iter().find_map(|source| match source {
            TextSource::Event { name, keys } if *name == event => Some(*keys),
            _ => None,
        })
    };
    let Some((side, keys)) = event_keys(INPUT)
        .map(|keys| (Side::Input, keys))
        .or_else(|| event_keys(OUTPUT).map(|keys| (Side::Output, keys)))
    else {
        return Ok(None);
    };
    let (Some(trace_id), Some(span_id)) = (&record.trace_id, &record.span_id) else {
        return Err(NoSpan {
            event: event.to_owned(),
        });
    };
    let text = record.body.as_ref().and_then(value_text).or_else(|| {
        keys.iter()
            .find_map(|key| record.attributes.get(*key).and_then(value_text))
    });
    Ok(text.map(|text| LogMessage {
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
        event: event.to_owned(),
        side,
        text,
    }))
}

fn text_from(span: &SpanRecord, source: TextSource, pick: Pick) -> Option<String> {
    match source {
        TextSource::Messages { key, roles } => {
            let value = parsed(span.attributes.get(key)?)?;
            message_list_text(value.as_array()?, roles, pick)
        }
        TextSource::Event { name, keys } => {
            let events = span.events.iter().filter(|event| event.name == name);
            let texts = events.filter_map(|event| {
                keys.iter()
                    .find_map(|key| event.attributes.get(*key).and_then(value_text))
            });
            pick.from(texts)
        }
        TextSource::Indexed { prefix, roles } => {
            indexed_text(&span.attributes, prefix, roles, pick)
        }
        TextSource::Plain(key) => span
            .attributes
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
    }
}

/// A JSON value sent as a JSON string is read as the value it encodes.
fn parsed(value: &Value) -> Option<std::borrow::Cow<'_, Value>> {
    match value {
        Value::String(text) => serde_json::from_str(text).ok().map(std::borrow::Cow::Owned),
        other => Some(std::borrow::Cow::Borrowed(other)),
    }
}

fn message_list_text(messages: &[Value], roles: &[&str], pick: Pick) -> Option<String> {
    let texts = messages
        .iter()
        .filter(|message| role_matches(message.get("role").and_then(Value::as_str), roles))
        .filter_map(message_text);
    pick.from(texts)
}

/// A message that names no role is taken as the one sought.
fn role_matches(role: Option<&str>, roles: &[&str]) -> bool {
    roles.is_empty() || role.is_none_or(|role| roles.contains(&role))
}

/// A message's text parts, joined by newlines: current `parts`, OpenAI-style `content` (a
/// string or an array of parts), or a choice's `message`.
fn message_text(message: &Value) -> Option<String> {
    let object = message.as_object()?;
    if let Some(parts) = object.get("parts").and_then(Value::as_array) {
        return parts_text(parts);
    }
    match object.get("content") {
        Some(Value::String(text)) if !text.is_empty() => return Some(text.clone()),
        Some(Value::Array(parts)) => return parts_text(parts),
        _ => {}
    }
    object.get("message").and_then(message_text)
}

fn parts_text(parts: &[Value]) -> Option<String> {
    let texts: Vec<&str> = parts
        .iter()
        .filter(|part| {
            part.get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "text")
        })
        .filter_map(|part| {
            part.get("content")
                .or_else(|| part.get("text"))
                .and_then(Value::as_str)
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// An event attribute's text: a plain string, or a JSON message (or a string encoding one).
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if text.trim_start().starts_with('{') => {
            serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|message| message_text(&message))
                .or_else(|| Some(text.clone()))
        }
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Object(_) => message_text(value),
        _ => None,
    }
}

fn indexed_text(
    attributes: &Attributes,
    prefix: &str,
    roles: &[&str],
    pick: Pick,
) -> Option<String> {
    let messages = indexed(attributes, prefix);
    let texts = messages.values().filter_map(|fields| {
        let role = fields.get("message.role").and_then(|v| v.as_str());
        if !role_matches(role, roles) {
            return None;
        }
        if let Some(text) = fields
            .get("message.content")
            .and_then(|v| v.as_str())
            .filter(|text| !text.is_empty())
        {
            return Some(text.to_owned());
        }
        let mut parts: Vec<(usize, &str)> = fields
            .iter()
            .filter_map(|(rest, value)| {
                let index = rest
                    .strip_prefix("message.contents.")?
                    .strip_suffix(".message_content.text")?;
                Some((index.parse().ok()?, value.as_str()?))
            })
            .collect();
        parts.sort_unstable();
        let parts: Vec<&str> = parts.into_iter().map(|(_, text)| text).collect();
        (!parts.is_empty()).then(|| parts.join("\n"))
    });
    pick.from(texts)
}
