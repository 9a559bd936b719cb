//! How many spans or log records a request body holds, counted on the wire before decoding: a
//! small body of empty records decodes to hundreds of bytes per record, so the count is what
//! bounds the memory a request takes. A body that cannot be walked counts what it could; the
//! decoder then names what is wrong with it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::decode::Encoding;

/// The nesting of records in a request: each level's field number and its OTLP JSON names.
pub type RecordPath = &'static [(u64, &'static [&'static str])];

pub const SPANS: RecordPath = &[
    (1, &["resourceSpans", "resource_spans"]),
    (2, &["scopeSpans", "scope_spans"]),
    (2, &["spans"]),
];

pub const LOG_RECORDS: RecordPath = &[
    (1, &["resourceLogs", "resource_logs"]),
    (2, &["scopeLogs", "scope_logs"]),
    (2, &["logRecords", "log_records"]),
];

pub fn count(bytes: &[u8], encoding: Encoding, path: RecordPath) -> usize {
    match encoding {
        Encoding::Protobuf => count_protobuf(bytes, path),
        Encoding::Json => {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            Nested(path).deserialize(&mut deserializer).unwrap_or(0)
        }
    }
}

/// The occurrences of the last field of `path` inside the messages the fields before it name.
fn count_protobuf(mut bytes: &[u8], path: RecordPath) -> usize {
    let Some(((field, _), rest)) = path.split_first() else {
        return 0;
    };
    let mut count = 0;
    while !bytes.is_empty() {
        let Ok(key) = prost::encoding::decode_varint(&mut bytes) else {
            break;
        };
        let skip = match key & 7 {
            0 => prost::encoding::decode_varint(&mut bytes).map(|_| 0).ok(),
            1 => Some(8),
            5 => Some(4),
            2 => prost::encoding::decode_varint(&mut bytes)
                .ok()
                .and_then(|length| usize::try_from(length).ok()),
            _ => None,
        };
        let Some(length) = skip.filter(|length| *length <= bytes.len()) else {
            break;
        };
        let (inner, after) = bytes.split_at(length);
        if key & 7 == 2 && key >> 3 == *field {
            count += if rest.is_empty() {
                1
            } else {
                count_protobuf(inner, rest)
            };
        }
        bytes = after;
    }
    count
}

/// A JSON object whose first path field holds the records, or the objects that hold them.
struct Nested(RecordPath);

/// A JSON array of records, or of objects that hold them.
struct Items(RecordPath);

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an OTLP JSON object")
    }

    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let Some(((_, names), rest)) = self.0.split_first() else {
            return Ok(0);
        };
        let mut count = 0;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if names.contains(&key.as_ref()) {
                count += map.next_value_seed(Items(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(count)
    }
}

impl<'de> DeserializeSeed<'de> for Items {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an OTLP JSON array")
    }

    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<usize, A::Error> {
        let mut count = 0;
        if self.0.is_empty() {
            while items.next_element::<IgnoredAny>()?.is_some() {
                count += 1;
            }
        } else {
            while let Some(inner) = items.next_element_seed(Nested(self.0))? {
                count += inner;
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    use super::*;

    #[test]
    fn spans_are_counted_in_protobuf_and_json() {
        let scope = |spans: usize| ScopeSpans {
            spans: vec![Span::default(); spans],
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    scope_spans: vec![scope(2), scope(3)],
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans: vec![scope(4)],
                    ..Default::default()
                },
            ],
        };
        let protobuf = request.encode_to_vec();
        assert_eq!(count(&protobuf, Encoding::Protobuf, SPANS), 9);
        let json = br#"{"resourceSpans":[{"resource":{"attributes":[]},
            "scopeSpans":[{"scope":{"name":"x"},"spans":[{},{"name":"a"}]},{"spans":null}]},
            {"scopeSpans":[{"spans":[{}]}]}]}"#;
        assert_eq!(count(json, Encoding::Json, SPANS), 3);
        assert_eq!(count(b"not json", Encoding::Json, SPANS), 0);
    }
}
