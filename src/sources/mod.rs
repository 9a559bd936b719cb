//! Tokio tasks that read the world and send what they see to the app as actions.

pub mod otlp;
pub mod simulator;
