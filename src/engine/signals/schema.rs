//! Structured-output compliance: the output parses as JSON and validates against its JSON Schema
//! (draft 2020-12).

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::Value;

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
            Err(_) if output.trim_start().starts_with("```") => {
                Err("wrapped in a ```json fence".to_string())
            }
            Err(error) => Err(format!("not JSON: {error}")),
            Ok(instance) => validator
                .validate(instance)
                .map_err(|error| error.to_string()),
        })
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
                    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}}
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
    fn violations_carry_a_reason() {
        let registry = registry();
        let fenced = check(&registry, "answer", "```json\n{}\n```").unwrap();
        assert_eq!(fenced.unwrap_err(), "wrapped in a ```json fence");
        let missing = check(&registry, "answer", r#"{"answer":"ok"}"#).unwrap();
        assert!(missing.unwrap_err().contains("confidence"));
        let wrong_type = check(
            &registry,
            "answer",
            r#"{"answer":"ok","confidence":"high"}"#,
        );
        assert!(wrong_type.unwrap().is_err());
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
