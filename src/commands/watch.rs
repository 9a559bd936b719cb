//! `flightdeck watch`: the cockpit on the sources the config names, each started on its own
//! task so one that fails never stops the others or the screen.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::BadInput;
use super::local_offset;
use super::setup::{self, EngineSetup};
use crate::actuators::driver::{self, Driver};
use crate::actuators::{Mitigations, configured};
use crate::app::{Action, App, Settings};
use crate::cli::{GlobalArgs, WatchArgs};
use crate::config::sources::OtlpConfig;
use crate::config::{self, file::ConfigFile};
use crate::model::{MitigationKind, MitigationPlan};
use crate::runtime::{self, Controls};
use crate::sources::events::{self, Backlog, Followed, Input, Records};
use crate::sources::otlp::{self, Receiver};
use crate::sources::phoenix;
use crate::sources::prometheus::PrometheusSource;

/// How often the live clock ticks when no data arrives, so windows move and silence shows.
const CLOCK: Duration = Duration::from_secs(1);

pub fn run(
    global: &GlobalArgs,
    config: &ConfigFile,
    args: &WatchArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let incident = args
        .incident
        .as_deref()
        .map(super::incident_id)
        .transpose()?;
    let inputs = inputs(config, args)?;
    let line_limit = config.sources.line_limit().map_err(BadInput)?;
    let mut names: Vec<String> = inputs
        .iter()
        .map(|(records, input)| events::source_name(*records, input))
        .collect();
    // Read before anything else reaches the app, so the history is taken in on its own clock.
    let (backlogs, inputs) = read_backlogs(inputs, line_limit);
    let prometheus = config
        .sources
        .prometheus
        .clone()
        .map(PrometheusSource::new)
        .transpose()
        .map_err(|e| BadInput(e.to_string()))?;
    names.extend(prometheus.as_ref().map(PrometheusSource::name));
    let phoenix_config = config.sources.phoenix.clone();
    names.extend(phoenix_config.as_ref().map(phoenix::source_name));
    let otlp_config = match (args.otlp, &config.sources.otlp) {
        (Some(listen), configured) => Some(OtlpConfig {
            listen,
            ..configured.clone().unwrap_or_default()
        }),
        (None, configured) => configured.clone(),
    };
    let runtime = super::async_runtime()?;
    // Bound before the screen opens, so a port in use is a plain error, not a pane.
    let receiver = otlp_config
        .map(|settings| runtime.block_on(otlp::bind(&settings)))
        .transpose()
        .map_err(super::receiver_error)?;
    names.extend(receiver.as_ref().map(Receiver::name));
    // On stderr before the screen opens (seen once it closes) and in the log.
    if let Some(warning) = receiver.as_ref().and_then(Receiver::exposure_warning) {
        eprintln!("flightdeck watch: {warning}");
        tracing::warn!("{warning}");
    }
    if names.is_empty() {
        return Err(BadInput(
            "no sources: give --events FILE (or - for stdin) or --otlp ADDR, or configure [sources] in \
             flightdeck.toml (an annotated example is in assets/flightdeck.toml)"
                .into(),
        )
        .into());
    }
    let theme = setup::theme(global, config)?;
    let actor = config::actor();
    let dry_run = global.dry_run;
    // A read-only cockpit (a screen share) needs no backend's secrets and never calls one.
    let backends = if global.read_only {
        None
    } else {
        let (actuators, unconfigured) =
            configured::from_config(config, &actor).map_err(|error| BadInput(error.to_string()))?;
        Some(Driver {
            actuators,
            unconfigured,
            dry_run,
            timeout: Duration::from_millis(config.actuators.timeout_ms),
        })
    };
    let settings = Settings {
        actor,
        source: match names.as_slice() {
            [one] => format!("live · {one}"),
            many => format!("live · {} sources", many.len()),
        },
        read_only: global.read_only,
        dry_run,
        speed: None,
        present: global.present,
        local_offset: local_offset(),
        drill: None,
    };
    let engine = EngineSetup::new(config, &[], None)?.engine();
    let app = match incident {
        Some(id) => App::resumed(settings, engine, Utc::now(), super::resumed(data_dir, id)?),
        None => App::new(settings, engine, Utc::now()),
    };
    let start: runtime::StartSources = Box::new(move |outlets| {
        let data = outlets.data;
        let mitigations = match backends {
            Some(backends) => Some(Mitigations::Backends(driver::spawn(
                backends,
                outlets.reports,
            ))),
            None => {
                let read_only = MitigationKind::ALL
                    .iter()
                    .map(|kind| MitigationPlan::unavailable(*kind, "none", "read-only"))
                    .collect();
                let _ = outlets.reports.send(Action::PlansRead(read_only));
                None
            }
        };
        // The files' history goes first, so it is taken in on its own clock before anything live.
        tokio::spawn(async move {
            let (history, followed) = history(backlogs, Utc::now());
            if let Some(history) = history
                && data.send(history).await.is_err()
            {
                return;
            }
            for rest in followed {
                tokio::spawn(events::run_followed(rest, data.clone()));
            }
            for (records, input) in inputs {
                tokio::spawn(events::run(input, records, line_limit, data.clone()));
            }
            if let Some(prometheus) = prometheus {
                tokio::spawn(prometheus.run(data.clone()));
            }
            if let Some(config) = phoenix_config {
                tokio::spawn(phoenix::run(config, data.clone()));
            }
            if let Some(receiver) = receiver {
                otlp::feed(receiver, data.clone());
            }
            clock(data).await;
        });
        Controls {
            mitigations,
            playback: None,
        }
    });
    tracing::info!(sources = ?names, "watch starting");
    runtime.block_on(runtime::run(
        app,
        theme,
        data_dir.to_path_buf(),
        start,
        setup::embeddings(config)?,
    ))
}

/// The JSONL inputs: the flags first, else the config's.
fn inputs(config: &ConfigFile, args: &WatchArgs) -> anyhow::Result<Vec<(Records, Input)>> {
    let mut inputs = Vec::new();
    let events = match &args.events {
        Some(path) => Some(Input::at(path.clone(), !args.from_end)),
        None => config
            .sources
            .events
            .as_ref()
            .map(|e| Input::at(config.resolve(&e.path), e.from_start)),
    };
    inputs.extend(events.map(|input| (Records::Calls, input)));
    let changes = args
        .changes
        .clone()
        .or_else(|| config.changes.file.as_ref().map(|f| config.resolve(f)));
    if let Some(path) = changes {
        if path.as_os_str() == "-" {
            return Err(BadInput("--changes - : only calls can come from stdin".into()).into());
        }
        inputs.push((Records::Changes, Input::at(path, true)));
    }
    Ok(inputs)
}

/// The backlogs of the files followed from their start, and the other inputs.
fn read_backlogs(
    inputs: Vec<(Records, Input)>,
    line_limit: usize,
) -> (Vec<Backlog>, Vec<(Records, Input)>) {
    let mut backlogs = Vec::new();
    let mut others = Vec::new();
    for (records, input) in inputs {
        match input {
            Input::File {
                path,
                from_start: true,
            } => backlogs.push(Backlog::read(path, records, line_limit)),
            input => others.push((records, input)),
        }
    }
    (backlogs, others)
}

/// The files' histories as one observation on the data's own clock, the way a replay delivers
/// a recording: calls and changes together, so none is taken in after the evaluations it
/// precedes. Then where each file is followed on from.
pub fn history(backlogs: Vec<Backlog>, wall: DateTime<Utc>) -> (Option<Action>, Vec<Followed>) {
    let mut calls = Vec::new();
    let mut changes = Vec::new();
    let mut followed = Vec::new();
    for backlog in backlogs {
        calls.extend(backlog.calls);
        changes.extend(backlog.changes);
        followed.push(backlog.rest);
    }
    let newest = calls
        .iter()
        .map(|c| c.ts)
        .chain(changes.iter().map(|c| c.ts))
        .max();
    let history = newest.map(|now| Action::Observed {
        now,
        wall,
        calls,
        changes,
    });
    (history, followed)
}

/// Moves the cockpit's clock with the wall clock, so windows slide and silence shows.
async fn clock(data: mpsc::Sender<Action>) {
    let mut ticker = tokio::time::interval(CLOCK);
    loop {
        ticker.tick().await;
        let tick = Action::observed_live(Utc::now(), Vec::new(), Vec::new());
        if data.send(tick).await.is_err() {
            return;
        }
    }
}
