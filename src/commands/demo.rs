//! `flightdeck demo`: the cockpit on the embedded simulator.

use std::path::Path;

use chrono::Utc;

use super::BadInput;
use super::local_offset;
use super::setup::{self, EngineSetup};
use crate::app::{App, Settings};
use crate::cli::{DemoArgs, GlobalArgs};
use crate::config::file::ConfigFile;
use crate::sim::Simulator;
use crate::sim::scenario::Scenario;
use crate::{config, runtime};

pub fn run(
    global: &GlobalArgs,
    config: &ConfigFile,
    args: &DemoArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let incident = args
        .incident
        .as_deref()
        .map(super::incident_id)
        .transpose()?;
    let scenario = load_scenario(&args.scenario)?;
    let theme = setup::theme(global, config)?;
    let settings = Settings {
        actor: config::actor(),
        source: format!("demo:{} seed {}", scenario.name, args.seed),
        read_only: global.read_only,
        dry_run: global.dry_run,
        speed: Some(args.speed),
        present: global.present,
        local_offset: local_offset(),
        drill: None,
    };
    let engine = EngineSetup::new(config, &[], None)?.engine();
    let embeddings = setup::embeddings(config)?;
    let app = match incident {
        Some(id) => App::resumed(settings, engine, Utc::now(), super::resumed(data_dir, id)?),
        None => App::new(settings, engine, Utc::now()),
    };
    let simulator = Simulator::new(scenario, args.seed);
    tracing::info!(scenario = %args.scenario, seed = args.seed, speed = args.speed, "demo starting");
    let runtime = super::async_runtime()?;
    runtime.block_on(runtime::run(
        app,
        theme,
        data_dir.to_path_buf(),
        runtime::simulator(simulator, args.speed, global.dry_run),
        embeddings,
    ))
}

/// A built-in scenario by name, else a scenario file by path.
pub fn load_scenario(name_or_path: &str) -> anyhow::Result<Scenario> {
    let scenario = match Scenario::builtin(name_or_path) {
        Some(builtin) => builtin,
        None => {
            let text = std::fs::read_to_string(name_or_path).map_err(|error| {
                BadInput(format!(
                    "{name_or_path}: not a built-in scenario ({}) and not a readable file: {error}",
                    Scenario::builtin_names().join(", ")
                ))
            })?;
            Scenario::parse(name_or_path, &text)
        }
    };
    scenario.map_err(|e| BadInput(e.to_string()).into())
}
