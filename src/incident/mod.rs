//! Incident records on disk: the timeline store, listing and export.

pub mod export;
pub mod postmortem;
pub mod store;
pub mod writer;
