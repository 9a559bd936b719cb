//! Tokio tasks that read the world and send what they see to the app as actions.

pub mod events;
pub mod follow;
pub mod otlp;
pub mod phoenix;
pub mod prometheus;
pub mod replay;
pub mod simulator;
