//! One module per subcommand.

pub mod check;
pub mod demo;
pub mod drill;
pub mod export;
pub mod incidents;
pub mod record;
pub mod replay;
pub mod runbook;
pub mod scenarios;
pub mod setup;
pub mod triage;
pub mod watch;

use crate::config::file::{self, ConfigFile};

/// An error in what the user gave us (a file, a name, a value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// An incident id from the command line, checked before anything is read or written: an id names
/// a folder, so anything but the form the cockpit makes could lead outside the data dir.
pub fn incident_id(id: &str) -> Result<&str, BadInput> {
    if crate::incident::store::is_incident_id(id) {
        Ok(id)
    } else {
        Err(BadInput(format!(
            "{id:?} is not an incident id: ids look like INC-20260314-141700 (with -2, -3... for another opened in the same second); `flightdeck incidents` lists them"
        )))
    }
}

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

/// Reads a recorded incident back to continue it: its timeline, and where its minute samples end.
/// Unreadable lines are logged with their file and number, and counted on screen.
pub fn resumed(data_dir: &std::path::Path, id: &str) -> anyhow::Result<crate::app::Resumed> {
    use crate::incident::store;
    let timeline = store::load(data_dir, id).map_err(|e| BadInput(e.to_string()))?;
    let samples =
        store::load_lines::<crate::model::MinuteSample>(data_dir, id, store::SAMPLES_FILE)?;
    let timeline_path = store::incident_dir(data_dir, id).join(store::TIMELINE_FILE);
    let unreadable: Vec<(&std::path::Path, &store::BadLine)> = timeline
        .bad_lines
        .iter()
        .map(|bad| (timeline_path.as_path(), bad))
        .chain(
            samples
                .bad_lines
                .iter()
                .map(|bad| (samples.path.as_path(), bad)),
        )
        .collect();
    for (path, bad) in &unreadable {
        tracing::warn!(path = %path.display(), line = bad.line, reason = %bad.reason, "unreadable line skipped");
    }
    let minutes_recorded_until = samples
        .items
        .iter()
        .map(|s| s.minute)
        .max()
        .map(|last| last + chrono::Duration::minutes(1));
    Ok(crate::app::Resumed {
        entries: timeline.entries,
        minutes_recorded_until,
        unreadable: (!unreadable.is_empty()).then(|| {
            format!(
                "incident {id}: {} unreadable lines skipped (first: {} line {}); see the log",
                unreadable.len(),
                unreadable[0].0.display(),
                unreadable[0].1.line
            )
        }),
    })
}
