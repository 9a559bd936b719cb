//! flightdeck: a terminal incident cockpit for AI features in production.
//!
//! The pure core (`model`, `engine`, `otel`, `sim`, `drill`, `headless`, `redact`, `visible`) is
//! the `flightdeck-core` crate, re-exported here under the same names. `app` is pure too;
//! `sources`, `actuators`, `incident`, `files`, `jsonl`, `runtime` and `term` are the edge that
//! does I/O; `ui` draws from state.

pub use flightdeck_core::{drill, engine, headless, model, otel, redact, sim, visible};
pub use flightdeck_io::{
    actuators, config, enrichment, files, http, incident, jsonl, logging, outbox, sources,
};

pub mod app;
pub mod cli;
pub mod commands;
pub mod readiness;
pub mod runbook;
pub mod runtime;
pub mod term;
pub mod ui;
