//! OTLP messages (protobuf or OTLP JSON, both decoded into `opentelemetry-proto`'s types) as the
//! span and log records the mapping reads. Pure: the receiver decodes bodies, this converts them.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};
use serde_json::{Number, Value};

use super::evaluation::LogRecord;
use super::map::{MapError, is_llm_call};
use super::span::{Attributes, SpanEvent, SpanRecord, SpanStatus};

/// Every span of the request with its resource's attributes, or why it cannot be read; `None`
/// for a span that is not an LLM call and lacks its ids or times (passed over, not rejected).
pub fn spans(request: ExportTraceServiceRequest) -> Vec<Result<Option<SpanRecord>, MapError>> {
    let mut records = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .map(|resource| resource.attributes)
                .unwrap_or_default(),
        );
        for scope_spans in resource_spans.scope_spans {
            records.extend(
                scope_spans
                    .spans
                    .into_iter()
                    .map(|span| span_record(span, &resource)),
            );
        }
    }
    records
}

/// Every log record of the request, as the join reads it.
pub fn log_records(request: ExportLogsServiceRequest) -> Vec<LogRecord> {
    request
        .resource_logs
        .into_iter()
        .flat_map(|resource_logs| resource_logs.scope_logs)
        .flat_map(|scope_logs| scope_logs.log_records)
        .map(|record| LogRecord {
            event_name: Some(record.event_name).filter(|name| !name.is_empty()),
            trace_id: id(&record.trace_id),
            span_id: id(&record.span_id),
            attributes: attributes(record.attributes),
            body: record.body.map(|body| any_value(Some(body))),
        })
        .collect()
}

fn span_record(mut span: Span, resource: &Attributes) -> Result<Option<SpanRecord>, MapError> {
    let span_attributes = attributes(std::mem::take(&mut span.attributes));
    let (start, end) = match ids_and_times(&span) {
        Ok(times) => times,
        Err(_) if !is_llm_call(&span_attributes) => return Ok(None),
        Err(error) => return Err(error),
    };
    let events = span
        .events
        .into_iter()
        .map(|event| SpanEvent {
            // An event's time is not part of a call; one without it is taken at the span's end.
            time: time(event.time_unix_nano).unwrap_or(end),
            name: event.name,
            attributes: attributes(event.attributes),
        })
        .collect();
    Ok(Some(SpanRecord {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_span_id: id(&span.parent_span_id),
        status: status(span.status),
        attributes: span_attributes,
        resource: resource.clone(),
        name: span.name,
        start,
        end,
        events,
    }))
}
/// The span's start and end, once its ids are known to be valid.
fn ids_and_times(span: &Span) -> Result<(DateTime<Utc>, DateTime<Utc>), MapError> {
    let problem = |field: &str, problem: String| MapError {
        span_id: hex(&span.span_id),
        span_name: span.name.clone(),
        field: field.to_owned(),
        problem,
    };
    if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
        return Err(problem(
            "trace_id",
            format!("has {} bytes, not 16 non-zero bytes", span.trace_id.len()),
        ));
    }
    if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
        return Err(problem(
            "span_id",
            format!("has {} bytes, not 8 non-zero bytes", span.span_id.len()),
        ));
    }
    let start = time(span.start_time_unix_nano).ok_or_else(|| {
        problem(
            "start_time_unix_nano",
            time_problem(span.start_time_unix_nano),
        )
    })?;
    let end = time(span.end_time_unix_nano)
        .ok_or_else(|| problem("end_time_unix_nano", time_problem(span.end_time_unix_nano)))?;
    Ok((start, end))
}

fn status(status: Option<Status>) -> SpanStatus {
    match status {
        Some(status) if status.code == StatusCode::Error as i32 => SpanStatus::Error {
            message: Some(status.message).filter(|m| !m.is_empty()),
        },
        Some(status) if status.code == StatusCode::Ok as i32 => SpanStatus::Ok,
        _ => SpanStatus::Unset,
    }
}

/// Nanoseconds since the epoch; 0 is OTLP's "unset", which a span's times may not be.
fn time(nanos: u64) -> Option<DateTime<Utc>> {
    let nanos = i64::try_from(nanos).ok().filter(|n| *n > 0)?;
    Some(DateTime::from_timestamp_nanos(nanos))
}

fn time_problem(nanos: u64) -> String {
    if nanos == 0 {
        "is missing (0)".into()
    } else {
        format!("{nanos} is past the year 2262")
    }
}

/// An id as lowercase hex; `None` for an absent or all-zero one.
fn id(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

fn attributes(pairs: Vec<KeyValue>) -> Attributes {
    pairs
        .into_iter()
        .map(|pair| (pair.key, any_value(pair.value)))
        .collect()
}

/// An `AnyValue` as JSON: int → i64 number, kvlist → object, bytes → base64 string; a double
/// JSON cannot hold (NaN, ±∞) and an empty value → null.
fn any_value(value: Option<AnyValue>) -> Value {
    use any_value::Value as Any;
    match value.and_then(|value| value.value) {
        Some(Any::StringValue(text)) => Value::String(text),
        Some(Any::BoolValue(flag)) => Value::Bool(flag),
        Some(Any::IntValue(int)) => Value::from(int),
        Some(Any::DoubleValue(double)) => {
            Number::from_f64(double).map_or(Value::Null, Value::Number)
        }
        Some(Any::ArrayValue(array)) => Value::Array(
            array
                .values
                .into_iter()
                .map(|item| any_value(Some(item)))
                .collect(),
        ),
        Some(Any::KvlistValue(list)) => Value::Object(
            list.values
                .into_iter()
                .map(|pair| (pair.key, any_value(pair.value)))
                .collect(),
        ),
        Some(Any::BytesValue(bytes)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // A string-table index only profiles use; spans and logs carry the string itself.
        Some(Any::StringValueStrindex(_)) | None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use serde_json::json;

    use super::*;

    /// An OTLP JSON body as the spec writes it: hex ids, int64 as strings, camelCase, enum numbers.
    const BODY: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"support-answer"}}]},
      "scopeSpans":[{"spans":[{
        "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
        "name":"chat gpt-4o","kind":3,
        "startTimeUnixNano":"1773494100000000000","endTimeUnixNano":"1773494100812000000",
        "attributes":[
          {"key":"gen_ai.usage.input_tokens","value":{"intValue":"412"}},
          {"key":"temperature","value":{"doubleValue":0.2}},
          {"key":"stream","value":{"boolValue":false}},
          {"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[{"stringValue":"stop"}]}}},
          {"key":"tool","value":{"kvlistValue":{"values":[{"key":"name","value":{"stringValue":"search"}}]}}},
          {"key":"blob","value":{"bytesValue":"AQID"}}],
        "events":[{"timeUnixNano":"1773494100800000000","name":"gen_ai.choice",
          "attributes":[{"key":"index","value":{"intValue":0}}]}],
        "status":{"code":2,"message":"upstream timed out"}}]}]}]}"#;

    #[test]
    fn an_otlp_json_span_becomes_a_span_record() {
        let request: ExportTraceServiceRequest = serde_json::from_str(BODY).unwrap();
        let records = spans(request);
        let span = records[0].as_ref().unwrap().as_ref().unwrap();
        assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(span.span_id, "eee19b7ec3c1b174");
        assert_eq!(span.parent_span_id, None);
        assert_eq!((span.end - span.start).num_milliseconds(), 812);
        assert_eq!(
            span.status,
            SpanStatus::Error {
                message: Some("upstream timed out".into())
            }
        );
        assert_eq!(span.resource["service.name"], "support-answer");
        assert_eq!(
            Value::Object(span.attributes.clone().into_iter().collect()),
            json!({
                "gen_ai.usage.input_tokens": 412,
                "temperature": 0.2,
                "stream": false,
                "gen_ai.response.finish_reasons": ["stop"],
                "tool": {"name": "search"},
                "blob": "AQID",
            })
        );
        assert_eq!(span.events[0].name, "gen_ai.choice");
        assert_eq!(span.events[0].attributes["index"], 0);
    }

    #[test]
    fn a_span_without_ids_or_times_is_an_error_naming_the_field() {
        let mut request: ExportTraceServiceRequest = serde_json::from_str(BODY).unwrap();
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.attributes.push(KeyValue {
            key: "gen_ai.request.model".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("gpt-4o".into())),
            }),
            ..Default::default()
        });
        span.start_time_unix_nano = 0;
        let error = spans(request.clone()).remove(0).unwrap_err();
        assert_eq!(error.field, "start_time_unix_nano");
        assert!(error.to_string().contains("eee19b7ec3c1b174"), "{error}");
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.trace_id = vec![0; 16];
        assert_eq!(
            spans(request.clone()).remove(0).unwrap_err().field,
            "trace_id"
        );
        // Not a model call: passed over, whatever it lacks.
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.attributes.retain(|pair| pair.key == "stream");
        assert_eq!(spans(request), [Ok(None)]);
    }

    #[test]
    fn an_event_without_a_time_is_taken_at_the_spans_end() {
        let mut request: ExportTraceServiceRequest = serde_json::from_str(BODY).unwrap();
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.events[0].time_unix_nano = 0;
        let span = spans(request).remove(0).unwrap().unwrap();
        assert_eq!(span.events[0].time, span.end);
    }
}
