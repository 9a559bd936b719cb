//! One module per pane.

pub mod changes;
pub mod header;
pub mod hints;
pub mod metrics;
pub mod mitigations;
pub mod sources;
pub mod timeline;
pub mod triage;
