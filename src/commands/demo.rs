//! `flightdeck demo`: the cockpit on the embedded simulator.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use super::BadInput;
use crate::app::{App, Settings};
use crate::cli::{DemoArgs, GlobalArgs};
use crate::config::file::ConfigFile;
use crate::engine::signals::refusal::RefusalPhrases;
use crate::engine::{Engine, EngineConfig};
use crate::enrichment::embeddings::EmbeddingClient;
use crate::incident::store;
use crate::sim::scenario::Scenario;
use crate::sim::{Simulator, schema_registry};
use crate::ui::theme::{self, Theme};
use crate::{config, runtime};

pub fn run(
    global: &GlobalArgs,
    config: &ConfigFile,
    args: &DemoArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let scenario = load_scenario(&args.scenario)?;
    let theme = load_theme(global)?;
    let settings = Settings {
        actor: config::actor(),
        source: format!("demo:{} seed {}", scenario.name, args.seed),
        read_only: global.read_only,
        speed: Some(args.speed),
    };
    let engine = Engine::new(EngineConfig::default(), schema_registry())
        .with_refusal_phrases(refusal_phrases(config));
    let embeddings = config
        .signals
        .embeddings
        .clone()
        .map(EmbeddingClient::new)
        .transpose()
        .map_err(|e| BadInput(format!("signals.embeddings: {e}")))?;
    let mut app = App::new(settings, engine, Utc::now());
    if let Some(id) = &args.incident {
        let loaded = store::load(data_dir, id).map_err(|e| BadInput(e.to_string()))?;
        if !loaded.bad_lines.is_empty() {
            tracing::warn!(
                id,
                bad = loaded.bad_lines.len(),
                "unreadable timeline lines skipped"
            );
        }
        app.resume(loaded.entries);
    }
    let simulator = Simulator::new(scenario, args.seed);
    tracing::info!(scenario = %args.scenario, seed = args.seed, speed = args.speed, "demo starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(runtime::run_demo(
        app,
        theme,
        data_dir.to_path_buf(),
        simulator,
        args.speed,
        embeddings,
    ))
}

/// The config's extra refusal openings, for the engine.
pub fn refusal_phrases(config: &ConfigFile) -> RefusalPhrases {
    RefusalPhrases::new(config.signals.refusal_phrases.iter().map(String::as_str))
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

/// `--theme`, else dark; with `NO_COLOR`, the modifier-only mono theme.
fn load_theme(global: &GlobalArgs) -> anyhow::Result<Theme> {
    if config::no_color() {
        // crossterm drops bold and reverse under NO_COLOR unless told to emit styles anyway.
        ratatui::crossterm::style::force_color_output(true);
        return Theme::load(theme::NO_COLOR_THEME, None)
            .map_err(|e| BadInput(e.to_string()).into());
    }
    let name = global.theme.as_deref().unwrap_or(theme::DEFAULT_THEME);
    let user_file = config::theme_file(name).map_err(|e| BadInput(e.to_string()))?;
    let user_file = user_file
        .as_ref()
        .map(|(path, text)| (path.as_str(), text.as_str()));
    Theme::load(name, user_file).map_err(|e| BadInput(e.to_string()).into())
}
