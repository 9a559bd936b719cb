//! flightdeck's I/O edge: the sources that read calls and changes, the actuators that carry out
//! mitigations, the incident store and its writer, the embeddings client, HTTP and the config
//! file. Each reports in its own event type ([`sources::SourceEvent`],
//! [`actuators::ActuatorEvent`], [`incident::writer::StoreEvent`]); nothing here knows the app.

pub use flightdeck_core::{drill, engine, model, otel, redact, sim, visible};

pub mod actuators;
pub mod config;
pub mod enrichment;
pub mod files;
pub mod http;
pub mod incident;
pub mod jsonl;
pub mod logging;
pub mod outbox;
pub mod sources;
