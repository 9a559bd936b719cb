//! One module per subcommand.

pub mod demo;
pub mod export;
pub mod incidents;
pub mod record;
pub mod replay;
pub mod scenarios;
pub mod setup;
pub mod triage;
pub mod watch;

use crate::config::file::{self, ConfigFile};

/// An error in what the user gave us (a file, a name, a value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The config file `--config` / `FLIGHTDECK_CONFIG` names, or the one found in the current
/// directory or the config dir; none is fine, a bad one is the user's error.
pub fn load_config(global: &crate::cli::GlobalArgs) -> anyhow::Result<ConfigFile> {
    match file::locate(global.config.clone(), crate::config::config_dir()) {
        Some(path) => file::load(&path).map_err(|e| BadInput(e.to_string()).into()),
        None => Ok(ConfigFile::default()),
    }
}

/// A receiver that cannot start: an unset token variable is the user's to fix (exit 2), a port
/// that cannot be bound is a run-time failure (exit 1).
pub fn receiver_error(error: crate::sources::otlp::ReceiverError) -> anyhow::Error {
    use crate::sources::otlp::ReceiverError;
    match error {
        ReceiverError::TokenNotSet { .. } | ReceiverError::InvalidConfig { .. } => {
            BadInput(error.to_string()).into()
        }
        ReceiverError::Bind { .. } => error.into(),
    }
}

/// The tokio runtime the cockpit, its sources and the receiver run on. Two workers: the sources
/// wait on I/O, heavy decoding goes to the blocking pool, and the terminal reader has its thread.
pub fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The local zone's offset now, for the cockpit's local-time view (`z`).
pub fn local_offset() -> chrono::FixedOffset {
    *chrono::Local::now().offset()
}
