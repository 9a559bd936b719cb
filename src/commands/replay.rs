//! `flightdeck replay`: a recorded stream through the cockpit on a virtual clock. The headless
//! triage reads the recording first, so `o` can jump to shortly before the onset it found.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::BadInput;
use super::local_offset;
use super::setup::{self, EngineSetup};
use crate::app::{Action, App, Settings};
use crate::cli::{GlobalArgs, ReplayArgs};
use crate::config::{self, file::ConfigFile};
use crate::jsonl;
use crate::model::{
    Call, Change, MitigationKind, MitigationPlan, REPLAY_SOURCE, SourceState, SourceStatus,
};
use crate::runtime::{self, Controls};
use crate::sources::playback::{self, Recording};

pub fn run(
    global: &GlobalArgs,
    config: &ConfigFile,
    args: &ReplayArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let line_limit = config.sources.line_limit().map_err(BadInput)?;
    let recording = load(
        args,
        EngineSetup::new(config, &args.schemas, None)?,
        line_limit,
    )?;
    let theme = setup::theme(global, config)?;
    let settings = Settings {
        actor: config::actor(),
        source: format!("{REPLAY_SOURCE}{}", args.calls.display()),
        read_only: global.read_only,
        dry_run: global.dry_run,
        speed: Some(args.speed),
        present: global.present,
        local_offset: local_offset(),
        drill: None,
    };
    let app = App::new(
        settings,
        EngineSetup::new(config, &args.schemas, None)?.engine(),
        Utc::now(),
    );
    let speed = args.speed;
    let start: runtime::StartSources = Box::new(move |outlets| {
        let _ = outlets.reports.send(Action::PlansRead(unavailable_plans()));
        let (playback_tx, playback_commands) = mpsc::unbounded_channel();
        tokio::spawn(playback::run(
            recording,
            speed,
            outlets.data,
            playback_commands,
        ));
        Controls {
            mitigations: None,
            playback: Some(playback_tx),
        }
    });
    let runtime = super::async_runtime()?;
    runtime.block_on(runtime::run(
        app,
        theme,
        data_dir.to_path_buf(),
        start,
        setup::embeddings(config)?,
    ))
}

/// A recording is the past: nothing in it can be mitigated.
fn unavailable_plans() -> Vec<MitigationPlan> {
    MitigationKind::ALL
        .iter()
        .map(|kind| MitigationPlan::unavailable(*kind, "replay", "a replay cannot act"))
        .collect()
}

/// Reads the files (bad lines counted and named), sorts them by time, and finds the onset.
/// Lines over `line_limit` bytes are skipped and counted.
pub fn load(args: &ReplayArgs, setup: EngineSetup, line_limit: usize) -> anyhow::Result<Recording> {
    let mut status = SourceStatus::waiting(format!("replay {}", args.calls.display()));
    status.state = SourceState::Connected;
    let mut calls: Vec<Call> = read(&args.calls, line_limit, &mut status)?;
    let mut changes: Vec<Change> = match &args.changes {
        Some(path) => read(path, line_limit, &mut status)?,
        None => Vec::new(),
    };
    calls.sort_by_key(|c| c.ts);
    changes.sort_by_key(|c| c.ts);
    let mut headless = setup.replay();
    let mut feed = changes.iter().cloned().peekable();
    for call in &calls {
        while let Some(change) = feed.next_if(|c| c.ts <= call.ts) {
            headless.change(change);
        }
        headless.call(call);
    }
    let onset = headless.finish(status.rejected).onset;
    Ok(Recording {
        calls,
        changes,
        onset,
        status,
    })
}

fn read<T: DeserializeOwned>(
    path: &Path,
    line_limit: usize,
    status: &mut SourceStatus,
) -> anyhow::Result<Vec<T>> {
    let file =
        File::open(path).map_err(|e| BadInput(format!("{}: cannot open: {e}", path.display())))?;
    let mut records = Vec::new();
    jsonl::for_each_line(
        BufReader::with_capacity(1 << 20, file),
        line_limit,
        |number, parsed| match parsed {
            Ok(record) => {
                status.received += 1;
                records.push(record);
            }
            Err(error) => {
                status.rejected += 1;
                let reason = format!(
                    "{} line {number}: {}",
                    path.display(),
                    jsonl::describe(&error)
                );
                eprintln!("flightdeck: skipped {reason}");
                status.last_error = Some(reason);
            }
        },
    )
    .with_context(|| format!("reading {}", path.display()))?;
    Ok(records)
}
