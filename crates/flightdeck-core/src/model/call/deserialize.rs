//! A hand-written `Deserialize` for [`Call`]: known fields go straight to their types and only
//! unknown ones are kept as JSON values, where a derived `#[serde(flatten)]` would first buffer
//! the whole object.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::Call;

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CallVisitor)
    }
}

/// A string, borrowed from the input when it has no escapes: a field name or a timestamp.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A call's time: RFC 3339 read by chrono's dedicated parser, several times faster than the
/// general one that `DateTime`'s own `Deserialize` uses and falls back to.
struct Timestamp(DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Key(text) = Key::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|ts| ts.with_timezone(&Utc))
            .or_else(|_| text.parse::<DateTime<Utc>>())
            .map(Timestamp)
            .map_err(de::Error::custom)
    }
}

/// Stores a field's value, refusing a second one as the derived impl does.
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

struct CallVisitor;

impl<'de> Visitor<'de> for CallVisitor {
    type Value = Call;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a call object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Call, A::Error> {
        let mut ts = None;
        let mut feature = None;
        let mut model_requested = None;
        let mut model_served = None;
        let mut status = None;
        let mut latency_ms = None;
        let mut request_id = None;
        let mut provider = None;
        let mut prompt_id = None;
        let mut prompt_version = None;
        let mut input = None;
        let mut output = None;
        let mut context = None;
        let mut output_schema = None;
        let mut http_status = None;
        let mut finish_reason = None;
        let mut tokens_in = None;
        let mut tokens_out = None;
        let mut evals = None;
        let mut feedback = None;
        let mut should_answer = None;
        let mut input_embedding = None;
        let mut output_embedding = None;
        let mut attributes = None;
        let mut extra: BTreeMap<String, Value> = BTreeMap::new();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "ts" => once(&mut ts, "ts", map.next_value::<Timestamp>()?.0)?,
                "feature" => once(&mut feature, "feature", map.next_value()?)?,
                "model_requested" => {
                    once(&mut model_requested, "model_requested", map.next_value()?)?
                }
                "model_served" => once(&mut model_served, "model_served", map.next_value()?)?,
                "status" => once(&mut status, "status", map.next_value()?)?,
                "latency_ms" => once(&mut latency_ms, "latency_ms", map.next_value()?)?,
                "request_id" => once(&mut request_id, "request_id", map.next_value()?)?,
                "provider" => once(&mut provider, "provider", map.next_value()?)?,
                "prompt_id" => once(&mut prompt_id, "prompt_id", map.next_value()?)?,
                "prompt_version" => once(&mut prompt_version, "prompt_version", map.next_value()?)?,
                "input" => once(&mut input, "input", map.next_value()?)?,
                "output" => once(&mut output, "output", map.next_value()?)?,
                "context" => once(&mut context, "context", map.next_value()?)?,
                "output_schema" => once(&mut output_schema, "output_schema", map.next_value()?)?,
                "http_status" => once(&mut http_status, "http_status", map.next_value()?)?,
                "finish_reason" => once(&mut finish_reason, "finish_reason", map.next_value()?)?,
                "tokens_in" => once(&mut tokens_in, "tokens_in", map.next_value()?)?,
                "tokens_out" => once(&mut tokens_out, "tokens_out", map.next_value()?)?,
                "evals" => once(&mut evals, "evals", map.next_value()?)?,
                "feedback" => once(&mut feedback, "feedback", map.next_value()?)?,
                "should_answer" => once(&mut should_answer, "should_answer", map.next_value()?)?,
                "input_embedding" => {
                    once(&mut input_embedding, "input_embedding", map.next_value()?)?
                }
                "output_embedding" => {
                    once(&mut output_embedding, "output_embedding", map.next_value()?)?
                }
                "attributes" => once(&mut attributes, "attributes", map.next_value()?)?,
                _ => {
                    extra.insert(key.into_owned(), map.next_value()?);
                }
            }
        }
        Ok(Call {
            ts: required(ts, "ts")?,
            feature: required(feature, "feature")?,
            model_requested: required(model_requested, "model_requested")?,
            model_served: model_served.flatten(),
            status: required(status, "status")?,
            latency_ms: required(latency_ms, "latency_ms")?,
            request_id: request_id.flatten(),
            provider: provider.flatten(),
            prompt_id: prompt_id.flatten(),
            prompt_version: prompt_version.flatten(),
            input: input.flatten(),
            output: output.flatten(),
            context: context.flatten(),
            output_schema: output_schema.flatten(),
            http_status: http_status.flatten(),
            finish_reason: finish_reason.flatten(),
            tokens_in: tokens_in.flatten(),
            tokens_out: tokens_out.flatten(),
            evals: evals.unwrap_or_default(),
            feedback: feedback.flatten(),
            should_answer: should_answer.flatten(),
            input_embedding: input_embedding.flatten(),
            output_embedding: output_embedding.flatten(),
            attributes: attributes.unwrap_or_default(),
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::model::{CallStatus, Eval, Feedback};

    fn text() -> impl Strategy<Value = String> {
        // Quotes, backslashes, control characters and non-ASCII exercise every escape.
        "[a-z \"\\\\\n\té✓]{0,12}"
    }

    prop_compose! {
        fn call()(
            seconds in 0i64..2_000_000_000,
            feature in text(),
            served in proptest::option::of(text()),
            status in prop::sample::select(vec![
                CallStatus::Ok, CallStatus::Error, CallStatus::Timeout, CallStatus::RateLimited,
            ]),
            latency_ms in 0.0f64..1e6,
            output in proptest::option::of(text()),
            context in proptest::option::of(prop::collection::vec(text(), 0..3)),
            tokens_in in proptest::option::of(any::<u64>()),
            flag in proptest::option::of(any::<bool>()),
            score in proptest::option::of(0.0f64..1.0),
            feedback in proptest::option::of(prop::sample::select(vec![Feedback::Up, Feedback::Down])),
            attributes in prop::collection::btree_map("[a-z]{1,6}", text(), 0..3),
            extra in prop::collection::btree_map("x_[a-z]{1,6}", any::<i32>(), 0..3),
        ) -> Call {
            let mut evals = BTreeMap::new();
            if let Some(flag) = flag {
                evals.insert("refusal".to_string(), Eval::Flag(flag));
            }
            if let Some(score) = score {
                evals.insert(
                    "hallucination".to_string(),
                    Eval::Graded { score: serde_json::Number::from_f64(score), label: None, extra: BTreeMap::new() },
                );
            }
            Call {
                ts: DateTime::from_timestamp_millis(seconds * 1000 + 7).unwrap(),
                feature,
                model_requested: "gpt-4o".into(),
                model_served: served,
                status,
                latency_ms,
                request_id: None,
                provider: Some("openai".into()),
                prompt_id: None,
                prompt_version: Some("v7".into()),
                input: None,
                output,
                context,
                output_schema: None,
                http_status: Some(200),
                finish_reason: None,
                tokens_in,
                tokens_out: None,
                evals,
                feedback,
                should_answer: None,
                input_embedding: None,
                output_embedding: Some(vec![0.25, -1.5]),
                attributes: attributes.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
                extra: extra.into_iter().map(|(k, v)| (k, json!(v))).collect(),
            }
        }
    }

    proptest! {
        #[test]
        fn a_written_call_reads_back_the_same(call in call()) {
            let line = serde_json::to_string(&call).unwrap();
            let back: Call = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(back, call);
        }

        #[test]
        fn a_call_without_a_required_field_is_refused_by_name(
            call in call(),
            field in prop::sample::select(vec!["ts", "feature", "model_requested", "status", "latency_ms"]),
        ) {
            let mut value = serde_json::to_value(&call).unwrap();
            value.as_object_mut().unwrap().remove(field);
            let error = serde_json::from_value::<Call>(value).unwrap_err().to_string();
            prop_assert_eq!(error, format!("missing field `{field}`"));
        }
    }

    #[test]
    fn a_repeated_field_or_a_bad_time_is_an_error_that_says_so() {
        let line = r#"{"ts":"2026-03-14T14:15:00Z","feature":"a","feature":"b","model_requested":"m","status":"ok","latency_ms":1}"#;
        let error = serde_json::from_str::<Call>(line).unwrap_err().to_string();
        assert!(error.starts_with("duplicate field `feature`"), "{error}");
        let line = r#"{"ts":"yesterday","feature":"a","model_requested":"m","status":"ok","latency_ms":1}"#;
        let error = serde_json::from_str::<Call>(line).unwrap_err().to_string();
        assert!(
            error.starts_with("input contains invalid characters"),
            "{error}"
        );
    }

    #[test]
    fn a_timestamp_with_an_offset_or_a_space_is_read_as_utc() {
        for ts in ["2026-03-14T15:15:00+01:00", "2026-03-14 14:15:00Z"] {
            let line = format!(
                r#"{{"ts":"{ts}","feature":"a","model_requested":"m","status":"ok","latency_ms":1}}"#
            );
            let call: Call = serde_json::from_str(&line).unwrap();
            assert_eq!(call.ts.to_rfc3339(), "2026-03-14T14:15:00+00:00", "{ts}");
        }
    }
}
