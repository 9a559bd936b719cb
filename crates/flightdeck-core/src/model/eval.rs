//! An online evaluator's result on a call, in each shape the contract allows (docs/events.md):
//! a flag, a score, or an object with a score and a label. Read into its own type rather than a
//! JSON value, since four calls in five carry one and the triage reads every call.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Eval {
    Flag(bool),
    /// Kept as the number it came as, so `1` is written back as `1`, not `1.0`.
    Score(Number),
    Graded {
        #[serde(skip_serializing_if = "Option::is_none")]
        score: Option<Number>,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        /// Any other key the evaluator sent, kept as it came.
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    },
    /// A shape the contract does not define, kept as it came.
    Other(Value),
}

impl Eval {
    /// The verdict as a boolean: `true`/`false`, a score ≥ 0.5, or a label such as
    /// "hallucinated" or "factual"; `None` when it says neither.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Self::Flag(flag) => Some(*flag),
            Self::Score(score)
            | Self::Graded {
                score: Some(score), ..
            } => score.as_f64().map(|score| score >= 0.5),
            Self::Graded {
                label: Some(label), ..
            } => {
                let is = |labels: &[&str]| labels.iter().any(|l| label.eq_ignore_ascii_case(l));
                if is(&["true", "yes", "hallucinated", "refused", "fail", "bad"]) {
                    Some(true)
                } else if is(&[
                    "false", "no", "factual", "grounded", "answered", "pass", "good",
                ]) {
                    Some(false)
                } else {
                    None
                }
            }
            Self::Graded { .. } | Self::Other(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Eval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EvalVisitor)
    }
}

struct EvalVisitor;

impl<'de> Visitor<'de> for EvalVisitor {
    type Value = Eval;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an evaluator result")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Eval, E> {
        Ok(Eval::Flag(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Eval, E> {
        Ok(Number::from_f64(v).map_or(Eval::Other(Value::Null), Eval::Score))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Eval, E> {
        Ok(Eval::Score(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Eval, E> {
        Ok(Eval::Score(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Eval, E> {
        Ok(Eval::Other(Value::String(v.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Eval, E> {
        Ok(Eval::Other(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Eval, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Eval::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Eval, A::Error> {
        // A repeated key keeps its last value, as a JSON object read anywhere else would.
        let mut extra = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            extra.insert(key, value);
        }
        // A score or label of another type is kept with the rest rather than refused.
        let score = match extra.remove("score") {
            Some(Value::Number(n)) => Some(n),
            Some(other) => {
                extra.insert("score".into(), other);
                None
            }
            None => None,
        };
        let label = match extra.remove("label") {
            Some(Value::String(text)) => Some(text),
            Some(other) => {
                extra.insert("label".into(), other);
                None
            }
            None => None,
        };
        Ok(Eval::Graded {
            score,
            label,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> Eval {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_documented_shape_gives_its_flag() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!(0.2), Some(false)),
            (json!(1), Some(true)),
            (json!({"score": 0.9}), Some(true)),
            (json!({"label": "Factual"}), Some(false)),
            (
                json!({"label": "hallucinated", "explanation": "cites kb-9"}),
                Some(true),
            ),
            (json!({"label": "unsure"}), None),
            (json!("maybe"), None),
        ] {
            assert_eq!(read(value.clone()).flag(), expected, "{value}");
        }
    }

    #[test]
    fn what_an_evaluator_sent_is_written_back_unchanged() {
        for value in [
            json!(true),
            json!(0.25),
            json!({"score": 1.0, "label": "hallucinated", "explanation": "cites kb-9"}),
            json!({"score": "high"}),
            json!(1),
            json!({"score": 1, "label": "pass"}),
            json!(["a", 1]),
            json!(null),
        ] {
            assert_eq!(serde_json::to_value(read(value.clone())).unwrap(), value);
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_once() {
        let eval: Eval =
            serde_json::from_str(r#"{"score": 0.1, "label": "x", "score": 0.9}"#).unwrap();
        assert_eq!(eval.flag(), Some(true));
        assert_eq!(
            serde_json::to_value(&eval).unwrap(),
            json!({"score": 0.9, "label": "x"})
        );
    }
}
