//! Signals computed from the content of a call.

pub mod groundedness;
pub mod refusal;
pub mod schema;
