//! Online evaluators' results on a call, from wherever they arrive: GenAI
//! `gen_ai.evaluation.result` events (on the span, or as log records sent on their own and
//! attached to the call by trace and span id), OpenInference `annotations.N.annotation.*`, and
//! `evaluation.NAME.{score,label}` attributes.

use std::collections::BTreeMap;

use serde_json::{Number, Value};

use super::span::{Attributes, SpanRecord, indexed};
use crate::model::Eval;

/// The GenAI event (span event or log record) that carries one evaluation result.
pub const EVALUATION_RESULT: &str = "gen_ai.evaluation.result";

const NAME: &str = "gen_ai.evaluation.name";
const SCORE: &str = "gen_ai.evaluation.score.value";
const LABEL: &str = "gen_ai.evaluation.score.label";
const EXPLANATION: &str = "gen_ai.evaluation.explanation";

/// A field that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A log record as the receiver hands it over: what the join needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The record's `event_name` field, when set.
    pub event_name: Option<String>,
    /// Lowercase hex, `None` when the record carries no (or an all-zero) id.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Attributes,
    /// The record's body as JSON (older GenAI message events carry their message here).
    pub body: Option<Value>,
}

impl LogRecord {
    /// The event it is: its `event_name` field, else its `event.name` attribute.
    pub fn event(&self) -> Option<&str> {
        self.event_name
            .as_deref()
            .or_else(|| self.attributes.get("event.name").and_then(Value::as_str))
    }
}

/// An evaluation result sent apart from its call, to be attached to the call of its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub eval: Eval,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    #[error(
        "{EVALUATION_RESULT} log record names no span: it needs its call's trace_id and span_id"
    )]
    NoSpan,
    #[error(
        "{EVALUATION_RESULT} log record for span {span_id}: `{}` {}",
        .problem.field,
        .problem.problem
    )]
    Field {
        span_id: String,
        problem: FieldProblem,
    },
}

/// The evaluation a log record carries; `None` for a record that is not an evaluation result.
pub fn evaluation_from_log(record: &LogRecord) -> Result<Option<Evaluation>, EvaluationError> {
    if record.event() != Some(EVALUATION_RESULT) {
        return Ok(None);
    }
    let (Some(trace_id), Some(span_id)) = (&record.trace_id, &record.span_id) else {
        return Err(EvaluationError::NoSpan);
    };
    let (name, eval) =
        graded_eval(&record.attributes).map_err(|problem| EvaluationError::Field {
            span_id: span_id.clone(),
            problem,
        })?;
    Ok(Some(Evaluation {
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
        name,
        eval,
    }))
}

/// The evaluations a span carries itself, by name.
pub fn span_evals(span: &SpanRecord) -> Result<BTreeMap<String, Eval>, FieldProblem> {
    let mut evals = BTreeMap::new();
    for event in span.events.iter().filter(|e| e.name == EVALUATION_RESULT) {
        let (name, eval) = graded_eval(&event.attributes)?;
        evals.insert(name, eval);
    }
    for (index, fields) in indexed(&span.attributes, "annotations") {
        let field = |rest: &str| format!("annotations.{index}.annotation.{rest}");
        let name = fields
            .get("annotation.name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| FieldProblem::new(field("name"), "is missing or not a string"))?;
        let eval = graded(
            fields.get("annotation.score").copied(),
            fields.get("annotation.label").copied(),
            fields.get("annotation.explanation").copied(),
            (&field("score"), &field("label")),
        )?;
        evals.insert(name.to_owned(), eval);
    }
    for (name, fields) in named_evaluations(&span.attributes) {
        let field = |rest: &str| format!("evaluation.{name}.{rest}");
        let eval = graded(
            fields.get("score").copied(),
            fields.get("label").copied(),
            fields.get("explanation").copied(),
            (&field("score"), &field("label")),
        )?;
        evals.insert(name.to_owned(), eval);
    }
    Ok(evals)
}

/// Whether an attribute key holds an evaluation (so it is not also copied into attributes).
pub fn is_evaluation_key(key: &str) -> bool {
    key.starts_with("annotations.") || key.starts_with("evaluation.")
}

/// An evaluation's name and result from `gen_ai.evaluation.*` attributes.
pub fn graded_eval(attributes: &Attributes) -> Result<(String, Eval), FieldProblem> {
    let name = attributes
        .get(NAME)
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| FieldProblem::new(NAME, "is missing or not a string"))?;
    let eval = graded(
        attributes.get(SCORE),
        attributes.get(LABEL),
        attributes.get(EXPLANATION),
        (SCORE, LABEL),
    )?;
    Ok((name.to_owned(), eval))
}

/// `evaluation.NAME.{score,label,explanation}` attributes grouped by NAME; other `evaluation.*`
/// keys (`evaluation.run.id`) are not results.
fn named_evaluations(attributes: &Attributes) -> BTreeMap<&str, BTreeMap<&str, &Value>> {
    let mut named: BTreeMap<&str, BTreeMap<&str, &Value>> = BTreeMap::new();
    for (key, value) in attributes.range("evaluation.".to_owned()..) {
        let Some(tail) = key.strip_prefix("evaluation.") else {
            break;
        };
        if let Some((name, rest)) = tail.rsplit_once('.')
            && ["score", "label", "explanation"].contains(&rest)
        {
            named.entry(name).or_default().insert(rest, value);
        }
    }
    named
}

fn graded(
    score: Option<&Value>,
    label: Option<&Value>,
    explanation: Option<&Value>,
    (score_field, label_field): (&str, &str),
) -> Result<Eval, FieldProblem> {
    let score = score
        .map(|value| score_number(value, score_field))
        .transpose()?;
    let label = match label {
        None => None,
        Some(Value::String(label)) => Some(label.clone()),
        Some(other) => {
            return Err(FieldProblem::new(
                label_field,
                format!("is {other}, not a string"),
            ));
        }
    };
    if score.is_none() && label.is_none() {
        return Err(FieldProblem::new(
            score_field,
            format!("is missing, and so is {label_field}: an evaluation needs one"),
        ));
    }
    let extra = explanation
        .map(|text| BTreeMap::from([("explanation".to_owned(), text.clone())]))
        .unwrap_or_default();
    Ok(Eval::Graded {
        score,
        label,
        extra,
    })
}

fn score_number(value: &Value, field: &str) -> Result<Number, FieldProblem> {
    match value {
        Value::Number(number) => Ok(number.clone()),
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| FieldProblem::new(field, format!("is \"{text}\", not a number"))),
        other => Err(FieldProblem::new(
            field,
            format!("is {other}, not a number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(event_name: Option<&str>, attributes: Value) -> LogRecord {
        LogRecord {
            event_name: event_name.map(str::to_owned),
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            span_id: Some("b7ad6b7169203331".into()),
            attributes: serde_json::from_value(attributes).unwrap(),
            body: None,
        }
    }

    #[test]
    fn an_evaluation_log_record_names_its_span_and_verdict() {
        let attributes = json!({
            "gen_ai.evaluation.name": "hallucination",
            "gen_ai.evaluation.score.value": "0.8",
            "gen_ai.evaluation.score.label": "hallucinated",
        });
        for record in [
            record(Some(EVALUATION_RESULT), attributes.clone()),
            record(None, {
                let mut with_name = attributes.clone();
                with_name["event.name"] = json!(EVALUATION_RESULT);
                with_name
            }),
        ] {
            let evaluation = evaluation_from_log(&record).unwrap().unwrap();
            assert_eq!(evaluation.span_id, "b7ad6b7169203331");
            assert_eq!(evaluation.name, "hallucination");
            assert_eq!(
                serde_json::to_value(&evaluation.eval).unwrap(),
                json!({"score": 0.8, "label": "hallucinated"})
            );
        }
    }

    #[test]
    fn only_score_label_and_explanation_keys_are_named_evaluations() {
        let attributes: Attributes = serde_json::from_value(json!({
            "evaluation.run.id": "r-17",
            "evaluation.relevance.score": 0.7,
            "evaluation.relevance.explanation": "on topic",
        }))
        .unwrap();
        let named = named_evaluations(&attributes);
        assert_eq!(named.keys().copied().collect::<Vec<_>>(), ["relevance"]);
        assert_eq!(named["relevance"].len(), 2);
    }

    #[test]
    fn other_log_records_are_not_evaluations() {
        let other = record(Some("gen_ai.client.inference.operation.details"), json!({}));
        assert_eq!(evaluation_from_log(&other), Ok(None));
        assert_eq!(
            evaluation_from_log(&record(None, json!({"a": 1}))),
            Ok(None)
        );
    }

    #[test]
    fn a_bad_evaluation_record_says_which_field() {
        let mut orphan = record(
            Some(EVALUATION_RESULT),
            json!({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": 1}),
        );
        orphan.span_id = None;
        assert_eq!(evaluation_from_log(&orphan), Err(EvaluationError::NoSpan));
        let unscored = record(
            Some(EVALUATION_RESULT),
            json!({"gen_ai.evaluation.name": "x"}),
        );
        let error = evaluation_from_log(&unscored).unwrap_err().to_string();
        assert!(
            error.contains("b7ad6b7169203331") && error.contains(SCORE) && error.contains(LABEL),
            "{error}"
        );
        let worded = record(
            Some(EVALUATION_RESULT),
            json!({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": "high"}),
        );
        let error = evaluation_from_log(&worded).unwrap_err().to_string();
        assert!(error.contains("\"high\", not a number"), "{error}");
    }
}
