//! The user's `flightdeck.toml`: where it is found and what it may say. An unknown key or a
//! wrong type is an error naming the file, the line and the key; secrets are never in the file,
//! only the names of the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::actuators::{ActuatorsConfig, MitigationsConfig};
use super::sources::{ChangesConfig, SourcesConfig};
use crate::engine::metrics::MetricId;
use crate::enrichment::embeddings::EndpointConfig;
use crate::incident::postmortem::redaction::RedactionConfig;

/// The file's name in the current directory and in the config dir.
pub const FILE_NAME: &str = "flightdeck.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The colour theme by name (built in, or a file in the config dir's themes/); `--theme`
    /// wins over it and `NO_COLOR` over both.
    pub theme: Option<String>,
    /// The AI features watched, and what flightdeck should know about each.
    #[serde(default)]
    pub features: Vec<FeatureConfig>,
    /// JSON Schemas by the name calls give in `output_schema`: name = path, relative to this file.
    #[serde(default)]
    pub schemas: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub thresholds: ThresholdsConfig,
    #[serde(default)]
    pub signals: SignalsConfig,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub changes: ChangesConfig,
    /// How to reach each mitigation backend.
    #[serde(default)]
    pub actuators: ActuatorsConfig,
    /// Which backend carries out each mitigation, on what.
    #[serde(default)]
    pub mitigations: MitigationsConfig,
    /// What the postmortem export masks in the failing calls it quotes.
    #[serde(default)]
    pub postmortem: RedactionConfig,
    /// The alert thresholds on the quality metrics, which `flightdeck check` asks for.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// What `flightdeck check` reads besides the live systems.
    #[serde(default)]
    pub readiness: ReadinessConfig,
    /// Where the file was read from; relative paths in it are taken from its directory.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    /// The file itself, for errors found after parsing to name it.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

impl ConfigFile {
    /// A path from the file, relative to the file's own directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match &self.dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// An AI feature, by the name its calls carry in `feature`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    pub name: String,
    /// The schema its answers must satisfy, for calls that do not name one themselves (OTLP
    /// spans rarely do).
    pub output_schema: Option<String>,
    /// The model the feature requests, e.g. "gpt-4o-2024-08-06": a dated snapshot, not an alias.
    pub model: Option<String>,
    /// What users get while the kill switch is off, e.g. "the help-centre search results".
    pub fallback: Option<String>,
}

/// How sensitive the detectors are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsConfig {
    /// Each metric detector's false-alarm budget: calls between false alarms (default 10,000).
    pub calls_per_false_alarm: Option<f64>,
}

/// Alert thresholds as absolute rates in 0..1: the rate the team's alerting pages at.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Alert when more than this share of answers is hallucinated.
    pub hallucination_rate: Option<f64>,
    /// Alert when more than this share of answers is a refusal.
    pub refusal_rate: Option<f64>,
    /// Alert when less than this share of answers satisfies its output schema.
    pub schema_compliance: Option<f64>,
}

impl AlertsConfig {
    /// Each threshold that is set, by its key and the metric it bounds (in display units).
    pub fn thresholds(&self) -> Vec<(&'static str, MetricId, f64)> {
        [
            (
                "hallucination_rate",
                MetricId::Hallucination,
                self.hallucination_rate,
            ),
            ("refusal_rate", MetricId::Refusal, self.refusal_rate),
            (
                "schema_compliance",
                MetricId::Schema,
                self.schema_compliance,
            ),
        ]
        .into_iter()
        .filter_map(|(key, metric, value)| Some((key, metric, value?)))
        .collect()
    }
}

/// Where the team keeps what `flightdeck check` audits besides the live systems.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessConfig {
    /// The team's AI incident runbook (relative to this file), as `flightdeck runbook` writes it.
    pub runbook: Option<PathBuf>,
}

/// How the content signals read a call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalsConfig {
    /// Openings that mark an answer as a refusal, on top of the built-in lists.
    #[serde(default)]
    pub refusal_phrases: Vec<String>,
    /// An OpenAI-compatible `/v1/embeddings` endpoint to embed inputs and outputs with, instead
    /// of the built-in hashed n-grams.
    pub embeddings: Option<EndpointConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// toml's message names the line, the column and the key, and quotes the line.
    #[error("the config file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// The config file to read: `--config` / `FLIGHTDECK_CONFIG` (which must exist), else
/// `flightdeck.toml` in the current directory, else in the platform's config dir, else none.
pub fn locate(flag: Option<PathBuf>, config_dir: Option<PathBuf>) -> Option<PathBuf> {
    if flag.is_some() {
        return flag;
    }
    let here = PathBuf::from(FILE_NAME);
    if here.is_file() {
        return Some(here);
    }
    config_dir
        .map(|dir| dir.join(FILE_NAME))
        .filter(|path| path.is_file())
}

pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

pub fn parse(path: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    let mut config: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    config.dir = Path::new(path).parent().map(Path::to_path_buf);
    config.path = Some(PathBuf::from(path));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotated_example_parses_every_section() {
        let text = include_str!("../../../../assets/flightdeck.toml");
        let config = parse("assets/flightdeck.toml", text).unwrap();
        assert_eq!(config.theme.as_deref(), Some("dark"));
        assert!(!config.signals.refusal_phrases.is_empty());
        let feature = &config.features[0];
        assert_eq!(
            (feature.name.as_str(), feature.output_schema.as_deref()),
            ("support-answer", Some("support_answer"))
        );
        assert_eq!(config.thresholds.calls_per_false_alarm, Some(10_000.0));
        let sources = &config.sources;
        assert!(sources.events.is_some() && sources.otlp.is_some());
        assert_eq!(sources.prometheus.as_ref().unwrap().queries.len(), 2);
        assert_eq!(sources.phoenix.as_ref().unwrap().tag, "production");
        assert!(config.changes.file.is_some());
        assert!(config.actuators.unleash.is_some() && config.actuators.phoenix.is_some());
        let mitigations = &config.mitigations;
        assert!(
            mitigations.prompt_rollback.is_some()
                && mitigations.model_pin.is_some()
                && mitigations.kill_switch.is_some()
        );
        assert_eq!(feature.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert!(feature.fallback.is_some());
        assert_eq!(config.alerts.hallucination_rate, Some(0.05));
        assert_eq!(config.alerts.schema_compliance, Some(0.97));
        assert_eq!(
            config.readiness.runbook.as_deref(),
            Some(Path::new("RUNBOOK.md"))
        );
        let rule = crate::incident::postmortem::Redaction::from_config(&config.postmortem).unwrap();
        assert_eq!(rule.apply("customer-7f3a wrote"), "‹redacted› wrote");
    }

    #[test]
    fn a_bad_redaction_pattern_names_the_section_and_the_pattern() {
        let config = parse("team.toml", "[postmortem]\nredact = [\"order (\\\\d+\"]\n").unwrap();
        let error = crate::incident::postmortem::Redaction::from_config(&config.postmortem)
            .unwrap_err()
            .to_string();
        assert!(error.contains("[postmortem] redact"), "{error}");
        assert!(error.contains("order ("), "{error}");
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it() {
        let config = parse(
            "team/flightdeck.toml",
            "[schemas]\nanswer = \"schemas/answer.json\"\n",
        )
        .unwrap();
        assert_eq!(
            config.resolve(&config.schemas["answer"]),
            Path::new("team/schemas/answer.json")
        );
        assert_eq!(
            config.resolve(Path::new("/etc/answer.json")),
            Path::new("/etc/answer.json")
        );
    }

    #[test]
    fn an_unknown_key_names_the_file_the_line_and_the_key() {
        let text = "[signals]\nrefusal_phrases = []\nrefusal_phrase = [\"x\"]\n";
        let error = parse("team.toml", text).unwrap_err().to_string();
        assert!(error.contains("team.toml"), "{error}");
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("refusal_phrase"), "{error}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let text = "[signals.embeddings]\nurl = \"http://127.0.0.1:8080/v1\"\nmodel = \"m\"\ntimeout_ms = \"soon\"\n";
        let error = parse("team.toml", text).unwrap_err().to_string();
        assert!(
            error.contains("line 4") && error.contains("timeout_ms"),
            "{error}"
        );
    }
}
