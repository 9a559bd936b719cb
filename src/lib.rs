//! flightdeck: a terminal incident cockpit for AI features in production.
//!
//! `model`, `engine`, `otel`, `redact`, `sim`, `replay`, `drill` and `app` are pure; `sources`,
//! `actuators`, `incident`, `files`, `jsonl`, `runtime` and `term` are the edge that does I/O;
//! `ui` draws from state.

pub mod actuators;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod drill;
pub mod engine;
pub mod enrichment;
pub mod files;
pub mod http;
pub mod incident;
pub mod jsonl;
pub mod logging;
pub mod model;
pub mod otel;
pub mod readiness;
pub mod redact;
pub mod replay;
pub mod runbook;
pub mod runtime;
pub mod sim;
pub mod sources;
pub mod term;
pub mod ui;
pub mod visible;
