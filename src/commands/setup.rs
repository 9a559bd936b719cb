//! What every command that runs the engine builds from the config file and the flags: schemas,
//! thresholds, refusal phrases, feature defaults, the theme and the embeddings endpoint.

use std::collections::HashMap;
use std::path::Path;

use super::BadInput;
use crate::cli::GlobalArgs;
use crate::config::{self, file::ConfigFile};
use crate::engine::signals::refusal::RefusalPhrases;
use crate::engine::signals::schema::SchemaRegistry;
use crate::engine::{Engine, EngineConfig};
use crate::enrichment::embeddings::EmbeddingClient;
use crate::headless::Replay;
use crate::sim::schema_registry;
use crate::ui::theme::{self, Theme};

/// The engine's settings from the config and the flags.
pub struct EngineSetup {
    pub config: EngineConfig,
    pub schemas: SchemaRegistry,
    pub refusals: RefusalPhrases,
    pub feature_schemas: HashMap<String, String>,
}

impl EngineSetup {
    /// `given_schemas` are `--schema NAME=FILE` flags; `calls_per_false_alarm` overrides the
    /// config's threshold.
    pub fn new(
        file: &ConfigFile,
        given_schemas: &[String],
        calls_per_false_alarm: Option<f64>,
    ) -> anyhow::Result<Self> {
        let mut config = EngineConfig::default();
        if let Some(calls) = calls_per_false_alarm.or(file.thresholds.calls_per_false_alarm) {
            if !(calls >= 100.0 && calls.is_finite()) {
                return Err(BadInput(format!(
                    "calls_per_false_alarm = {calls}: must be at least 100"
                ))
                .into());
            }
            config.calls_per_false_alarm = calls;
        }
        for (key, metric, threshold) in file.alerts.thresholds() {
            if !(threshold > 0.0 && threshold < 1.0) {
                return Err(BadInput(format!(
                    "[alerts] {key} = {threshold}: must be a share between 0 and 1 (0.05 is 5%)"
                ))
                .into());
            }
            config.alerts.push((metric, threshold));
        }
        let mut schemas = schema_registry();
        for (name, path) in &file.schemas {
            register(&mut schemas, name, &file.resolve(path), "schemas")?;
        }
        for pair in given_schemas {
            let (name, path) = pair
                .split_once('=')
                .ok_or_else(|| BadInput(format!("--schema {pair}: expected NAME=FILE")))?;
            register(&mut schemas, name, Path::new(path), "--schema")?;
        }
        let mut feature_schemas = HashMap::new();
        for feature in &file.features {
            if let Some(schema) = &feature.output_schema {
                if !schemas.contains(schema) {
                    return Err(BadInput(format!(
                        "features {}: output_schema \"{schema}\" is not a known schema (add it under [schemas])",
                        feature.name
                    ))
                    .into());
                }
                feature_schemas.insert(feature.name.clone(), schema.clone());
            }
        }
        Ok(Self {
            config,
            schemas,
            refusals: RefusalPhrases::new(file.signals.refusal_phrases.iter().map(String::as_str)),
            feature_schemas,
        })
    }

    pub fn engine(self) -> Engine {
        Engine::new(self.config, self.schemas)
            .with_refusal_phrases(self.refusals)
            .with_feature_schemas(self.feature_schemas)
    }

    pub fn replay(self) -> Replay {
        Replay::new(self.config, self.schemas)
            .with_refusal_phrases(self.refusals)
            .with_feature_schemas(self.feature_schemas)
    }
}

fn register(
    registry: &mut SchemaRegistry,
    name: &str,
    path: &Path,
    origin: &str,
) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("{origin} {name}: cannot read {shown}: {e}")))?;
    let schema: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| BadInput(format!("{shown}: not JSON: {e}")))?;
    registry
        .register(name, &schema)
        .map_err(|e| BadInput(format!("{shown}: {e}")).into())
}

/// The embeddings endpoint the config names, if any.
pub fn embeddings(file: &ConfigFile) -> anyhow::Result<Option<EmbeddingClient>> {
    file.signals
        .embeddings
        .clone()
        .map(EmbeddingClient::new)
        .transpose()
        .map_err(|e| BadInput(format!("signals.embeddings: {e}")).into())
}

/// `--theme`, else the config's `theme`, else dark; with `NO_COLOR`, the modifier-only mono theme.
pub fn theme(global: &GlobalArgs, file: &ConfigFile) -> anyhow::Result<Theme> {
    if config::no_color() {
        // crossterm drops bold and reverse under NO_COLOR unless told to emit styles anyway.
        ratatui::crossterm::style::force_color_output(true);
        return Theme::load(theme::NO_COLOR_THEME, None)
            .map_err(|e| BadInput(e.to_string()).into());
    }
    let name = global
        .theme
        .as_deref()
        .or(file.theme.as_deref())
        .unwrap_or(theme::DEFAULT_THEME);
    let user_file = config::theme_file(name).map_err(|e| BadInput(e.to_string()))?;
    let user_file = user_file
        .as_ref()
        .map(|(path, text)| (path.as_str(), text.as_str()));
    Theme::load(name, user_file).map_err(|e| BadInput(e.to_string()).into())
}
