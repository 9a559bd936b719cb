//! Signals computed from the content of a call.

pub mod drift;
pub mod embedding;
pub mod groundedness;
pub mod reference;
pub mod refusal;
pub mod schema;
