//! Signals computed from the content of a call.

#[cfg(test)]
mod clusters;
pub mod drift;
pub mod embedding;
pub mod groundedness;
pub mod reference;
pub mod refusal;
pub mod schema;

use std::collections::HashMap;

use self::refusal::RefusalPhrases;
use self::schema::SchemaRegistry;

/// What the content of a call is checked against: its output schema and the refusal openings.
#[derive(Default)]
pub struct Checks {
    pub schemas: SchemaRegistry,
    pub refusals: RefusalPhrases,
    /// The schema each feature's answers must satisfy when a call names none itself.
    pub feature_schemas: HashMap<String, String>,
}
