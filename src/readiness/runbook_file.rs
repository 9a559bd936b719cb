//! "An AI-specific runbook exists": the file [readiness] runbook names is there, walks the four
//! triage categories, and names the flags and prompts the config has today.

use std::path::Path;

use super::facts::RunbookFile;
use super::{Findings, Item};
use crate::config::actuators::{KillSwitchConfig, ModelPinConfig, PromptRollbackConfig};
use crate::config::file::ConfigFile;

pub const ID: &str = "runbook";
const TITLE: &str = "An AI-specific runbook exists and names today's systems";

/// How to write the runbook where check reads it: `[readiness] runbook` is relative to the config
/// file while `-o` is relative to the working directory, so the fix names the resolved path.
fn regenerate(config: &ConfigFile) -> String {
    let config_arg = config
        .path
        .as_ref()
        .map_or_else(String::new, |path| format!(" --config {}", path.display()));
    match &config.readiness.runbook {
        Some(path) => format!(
            "Write it with `flightdeck runbook{config_arg} -o {}`; regenerate it when the config \
             changes.",
            config.resolve(path).display()
        ),
        None => format!(
            "Write it with `flightdeck runbook{config_arg} -o {}` and set [readiness] runbook = \
             \"RUNBOOK.md\" (relative to the config file); regenerate it when the config changes.",
            config.resolve(Path::new("RUNBOOK.md")).display()
        ),
    }
}

/// What a current runbook must name, as (what it is, its name): the features, the kill-switch
/// flag, the model-pin flag and the prompt.
pub fn names(config: &ConfigFile) -> Vec<(&'static str, String)> {
    let mut names: Vec<(&'static str, String)> = config
        .features
        .iter()
        .map(|feature| ("feature", feature.name.clone()))
        .collect();
    match &config.mitigations.kill_switch {
        Some(KillSwitchConfig::Unleash { flag, .. } | KillSwitchConfig::Flagd { flag, .. }) => {
            names.push(("kill-switch flag", flag.clone()))
        }
        Some(KillSwitchConfig::Webhook { target, .. }) => {
            names.push(("kill-switch target", target.clone()))
        }
        None => {}
    }
    match &config.mitigations.model_pin {
        Some(ModelPinConfig::Unleash { flag, .. }) => names.push(("model-pin flag", flag.clone())),
        Some(ModelPinConfig::Webhook { target, .. }) => {
            names.push(("model-pin target", target.clone()))
        }
        None => {}
    }
    match &config.mitigations.prompt_rollback {
        Some(
            PromptRollbackConfig::Phoenix { prompt, .. }
            | PromptRollbackConfig::Langfuse { prompt, .. },
        ) => names.push(("prompt", prompt.clone())),
        Some(PromptRollbackConfig::Webhook { target, .. }) => {
            names.push(("prompt target", target.clone()))
        }
        None => {}
    }
    names
}

const CATEGORIES: [&str; 4] = ["infrastructure", "model", "prompt", "data"];

pub fn item(config: &ConfigFile, runbook: &RunbookFile) -> Item {
    let mut findings = Findings::default();
    match runbook {
        RunbookFile::NotConfigured => findings.fail(
            "[readiness] runbook names no runbook file",
            regenerate(config),
        ),
        RunbookFile::Unreadable { path, reason } => findings.fail(
            format!("cannot read the runbook {}: {reason}", path.display()),
            regenerate(config),
        ),
        RunbookFile::Read { path, text } => {
            let lower = text.to_lowercase();
            let missing_categories: Vec<&str> = CATEGORIES
                .into_iter()
                .filter(|category| !lower.contains(category))
                .collect();
            let missing_names: Vec<String> = names(config)
                .into_iter()
                .filter(|(_, name)| !text.contains(name.as_str()))
                .map(|(what, name)| format!("{what} {name}"))
                .collect();
            if !missing_categories.is_empty() {
                findings.fail(
                    format!(
                        "{} does not walk the triage categories {}",
                        path.display(),
                        missing_categories.join(", ")
                    ),
                    regenerate(config),
                );
            }
            if missing_categories.is_empty() {
                findings.pass(format!(
                    "{} walks the four triage categories",
                    path.display()
                ));
            }
            if missing_names.is_empty() {
                findings.pass(format!(
                    "{} names the configured features, flags and prompts",
                    path.display()
                ));
            } else {
                findings.fail(
                    format!(
                        "{} is out of date: it does not name {}",
                        path.display(),
                        missing_names.join(", ")
                    ),
                    regenerate(config),
                );
            }
        }
    }
    findings.item(ID, TITLE)
}
