//! Structured-output compliance: the output parses as JSON and validates against its JSON Schema
//! (draft 2020-12).

use std::collections::HashMap;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde::Serialize;
use serde_json::Value;

/// How many calls broke an output schema for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationCount {
    pub schema: String,
    pub reason: String,
    pub calls: u64,
}

/// Compiled output schemas by name.
#[derive(Default)]
pub struct SchemaRegistry {
    validators: HashMap<String, Validator>,
}

/// Why a schema could not be registered.
#[derive(Debug, thiserror::Error)]
#[error("schema `{name}` is not a valid JSON Schema: {reason}")]
pub struct SchemaError {
    pub name: String,
    pub reason: String,
}

impl SchemaRegistry {
    pub fn register(&mut self, name: &str, schema: &Value) -> Result<(), SchemaError> {
        let validator = jsonschema::draft202012::new(schema).map_err(|error| SchemaError {
            name: name.to_string(),
            reason: error.to_string(),
        })?;
        self.validators.insert(name.to_string(), validator);
        Ok(())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.validators.contains_key(name)
    }

    /// `None` when the schema is unknown, so an unregistered schema never counts as a violation;
    /// `parsed` is the output parsed as JSON.
    pub fn check(
        &self,
        schema_name: &str,
        output: &str,
        parsed: Result<&Value, &serde_json::Error>,
    ) -> Option<Result<(), String>> {
        let validator = self.validators.get(schema_name)?;
        Some(match parsed {
            Err(error) => Err(not_json(output, error)),
            Ok(instance) => validator.validate(instance).map_err(|error| reason(&error)),
        })
    }
}

/// Why an output that does not parse is not JSON, in words that stay the same from call to call
/// so that violations can be counted by reason.
fn not_json(output: &str, error: &serde_json::Error) -> String {
    let output = output.trim_start();
    if output.starts_with("```") {
        "wrapped in a ```json fence".into()
    } else if output.contains('{') && !output.starts_with('{') && !output.starts_with('[') {
        "prose before the JSON".into()
    } else if error.is_eof() {
        "cut off before the JSON ends".into()
    } else {
        "not JSON".into()
    }
}

/// A validation error as a short reason naming the property and what is wrong with it:
/// "missing required property 'citations'", "'confidence' is not a number".
fn reason(error: &ValidationError) -> String {
    let path = error.instance_path().as_str();
    let field = path.rsplit('/').next().filter(|f| !f.is_empty());
    let subject = field.map_or("the output".to_string(), |f| format!("'{f}'"));
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => match property.as_str() {
            Some(name) => format!("missing required property '{name}'{at}"),
            None => format!("missing a required property{at}"),
        },
        ValidationErrorKind::Type {
            kind: TypeKind::Single(expected),
        } => {
            let expected = expected.to_string();
            let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{subject} is not {article} {expected}")
        }
        ValidationErrorKind::Type { .. } => format!("{subject} has the wrong type"),
        ValidationErrorKind::AdditionalProperties { unexpected } => match unexpected.as_slice() {
            [one] => format!("unexpected property '{one}'{at}"),
            _ => format!("{} unexpected properties{at}", unexpected.len()),
        },
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
            format!("{subject} is not one of the allowed values")
        }
        _ => {
            let keyword = error
                .schema_path()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or("");
            format!("{subject} breaks '{keyword}'")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> SchemaRegistry {
        let mut registry = SchemaRegistry::default();
        registry
            .register(
                "answer",
                &json!({
                    "type": "object",
                    "required": ["answer", "confidence"],
                    "properties": {
                        "answer": {"type": "string"},
                        "confidence": {"type": "number", "maximum": 1},
                        "tone": {"enum": ["neutral", "warm"]}
                    },
                    "additionalProperties": false
                }),
            )
            .unwrap();
        registry
    }

    fn check(registry: &SchemaRegistry, name: &str, output: &str) -> Option<Result<(), String>> {
        registry.check(name, output, serde_json::from_str(output).as_ref())
    }

    #[test]
    fn a_valid_output_complies() {
        assert_eq!(
            check(&registry(), "answer", r#"{"answer":"ok","confidence":0.9}"#),
            Some(Ok(()))
        );
    }

    #[test]
    fn violations_carry_a_reason_that_names_the_property() {
        let registry = registry();
        for (output, expected) in [
            ("```json\n{}\n```", "wrapped in a ```json fence"),
            (
                "Here is the answer in JSON:\n{\"answer\":\"ok\"}",
                "prose before the JSON",
            ),
            (r#"{"answer":"ok","confid"#, "cut off before the JSON ends"),
            ("Your order shipped.", "not JSON"),
            (
                r#"{"answer":"ok"}"#,
                "missing required property 'confidence'",
            ),
            (
                r#"{"answer":"ok","confidence":"high"}"#,
                "'confidence' is not a number",
            ),
            (
                r#"{"answer":"ok","confidence":2}"#,
                "'confidence' breaks 'maximum'",
            ),
            (r#"["ok"]"#, "the output is not an object"),
            (
                r#"{"answer":"ok","confidence":0.5,"mood":"sad"}"#,
                "unexpected property 'mood'",
            ),
            (
                r#"{"answer":"ok","confidence":0.5,"tone":"rude"}"#,
                "'tone' is not one of the allowed values",
            ),
        ] {
            let reason = check(&registry, "answer", output).unwrap().unwrap_err();
            assert_eq!(reason, expected, "{output}");
        }
    }

    #[test]
    fn a_nested_violation_says_where() {
        let mut registry = SchemaRegistry::default();
        registry
            .register(
                "nested",
                &json!({"type": "object", "properties": {"source": {"type": "object", "required": ["url"]}}}),
            )
            .unwrap();
        let reason = check(&registry, "nested", r#"{"source":{}}"#)
            .unwrap()
            .unwrap_err();
        assert_eq!(reason, "missing required property 'url' in /source");
    }

    #[test]
    fn an_unknown_schema_is_not_judged() {
        assert_eq!(check(&registry(), "other", "not json"), None);
    }

    #[test]
    fn an_invalid_schema_is_an_error_naming_it() {
        let error = SchemaRegistry::default()
            .register("broken", &json!({"type": 12}))
            .unwrap_err();
        assert!(error.to_string().contains("broken"));
    }
}
