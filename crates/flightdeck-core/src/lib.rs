//! flightdeck's pure core: what a call and a change are, the engine that judges them and its
//! triage, the OpenTelemetry mapping, the simulator, drills and redaction. Nothing here does
//! network or terminal I/O, and the crate's dependencies keep it that way.

pub mod drill;
pub mod engine;
pub mod headless;
pub mod model;
pub mod otel;
pub mod redact;
pub mod sim;
pub mod visible;
