//! flightdeck: a terminal incident cockpit for AI features in production.

pub mod engine;
pub mod model;
pub mod sim;
