//! `flightdeck drill`: the cockpit on a built-in scenario whose name stays hidden until the
//! scorecard, recorded as an incident of kind drill.

use std::path::Path;

use chrono::Utc;

use super::setup::{self, EngineSetup};
use super::{BadInput, local_offset};
use crate::app::{App, Settings};
use crate::cli::{DrillArgs, GlobalArgs};
use crate::config::file::ConfigFile;
use crate::sim::Simulator;
use crate::sim::scenario::Scenario;
use crate::{config, drill, runtime};

pub fn run(
    global: &GlobalArgs,
    config: &ConfigFile,
    args: &DrillArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    if global.dry_run || global.read_only {
        return Err(BadInput(
            "a drill scores the mitigations it applies to its simulator: --dry-run and \
             --read-only would leave nothing to score"
                .into(),
        )
        .into());
    }
    let seed = args.seed.unwrap_or_else(|| {
        let now = Utc::now();
        now.timestamp_nanos_opt()
            .map_or(now.timestamp() as u64, |nanos| nanos as u64)
    });
    let name = chosen(&args.scenario, seed)?;
    let scenario = Scenario::builtin(name)
        .ok_or_else(|| BadInput(format!("{name}: not a built-in scenario")))?
        .map_err(|e| BadInput(e.to_string()))?;
    let theme = setup::theme(global, config)?;
    let settings = Settings {
        actor: config::actor(),
        // The header must not give the scenario away, nor the seed that picked it.
        source: "drill".to_string(),
        read_only: false,
        dry_run: false,
        speed: Some(args.speed),
        present: global.present,
        local_offset: local_offset(),
        drill: Some(name.to_string()),
    };
    let engine = EngineSetup::new(config, &[], None)?.engine();
    let embeddings = setup::embeddings(config)?;
    let app = App::new(settings, engine, Utc::now());
    let simulator = Simulator::new(scenario, seed);
    tracing::info!(
        seed,
        speed = args.speed,
        "drill starting (the seed replays it with --seed)"
    );
    let runtime = super::async_runtime()?;
    runtime.block_on(runtime::run(
        app,
        theme,
        data_dir.to_path_buf(),
        runtime::simulator(simulator, args.speed, false),
        embeddings,
    ))
}

/// The built-in scenario a drill plays: the one named, or one picked by the seed for `random`.
fn chosen(name: &str, seed: u64) -> Result<&'static str, BadInput> {
    if name == "random" {
        return Ok(drill::pick(seed));
    }
    Scenario::builtin_names()
        .into_iter()
        .find(|builtin| *builtin == name)
        .ok_or_else(|| {
            BadInput(format!(
                "{name}: not a built-in scenario; a drill plays one of: {}, or random",
                Scenario::builtin_names().join(", ")
            ))
        })
}
