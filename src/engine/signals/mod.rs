//! Signals computed from the content of a call.

#[cfg(test)]
mod clusters;
pub mod drift;
pub mod embedding;
pub mod groundedness;
pub mod reference;
pub mod refusal;
pub mod schema;

use self::refusal::RefusalPhrases;
use self::schema::SchemaRegistry;

/// What the content of a call is checked against: its output schema and the refusal openings.
#[derive(Default)]
pub struct Checks {
    pub schemas: SchemaRegistry,
    pub refusals: RefusalPhrases,
}
