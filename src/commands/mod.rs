//! One module per subcommand.

pub mod demo;
pub mod export;
pub mod incidents;
pub mod scenarios;
pub mod triage;

/// An error in what the user gave us (a file, a name, a value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
