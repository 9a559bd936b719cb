//! Tokio-side handles that change the world when the app asks for a mitigation.

pub mod simulator;
