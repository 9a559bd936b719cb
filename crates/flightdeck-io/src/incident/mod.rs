//! Incident records on disk: the timeline store, listing and the postmortem export.

pub mod postmortem;
pub mod store;
pub mod writer;
