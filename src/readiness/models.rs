//! "Models are pinned to dated snapshots, not floating aliases": from the models the config
//! names and the models recent calls requested and were served.

use std::collections::BTreeMap;

use super::facts::Telemetry;
use super::{Findings, Item};
use crate::config::actuators::ModelPinConfig;
use crate::config::file::ConfigFile;

pub const ID: &str = "model_pinned";
const TITLE: &str = "Models are pinned to dated snapshots, not floating aliases";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// A dated or numbered snapshot the provider will not move: gpt-4o-2024-08-06,
    /// claude-3-5-sonnet-20241022, gemini-1.5-pro-002, mistral-large-2407.
    Pinned,
    /// An alias the provider can move to a new model at any time: gpt-4o, claude-3-5-sonnet-latest.
    Floating,
}

/// Whether a model name names a snapshot: "latest" anywhere makes it floating; otherwise a part
/// of three or more digits (a date like 2024-08-06 or 20241022, a version like 002 or 0613) pins it.
pub fn pinning(model: &str) -> Pinning {
    let lower = model.to_ascii_lowercase();
    let parts: Vec<&str> = lower
        .split(['-', '_', '@', ':', '.', '/'])
        .filter(|part| !part.is_empty())
        .collect();
    if parts.contains(&"latest") {
        return Pinning::Floating;
    }
    let numbered = parts
        .iter()
        .any(|part| part.len() >= 3 && part.bytes().all(|b| b.is_ascii_digit()));
    if numbered {
        Pinning::Pinned
    } else {
        Pinning::Floating
    }
}

fn floating_fix(model: &str) -> String {
    format!(
        "Request a dated snapshot instead of {model} (the provider's model list names them, \
         e.g. gpt-4o-2024-08-06) and set it as the feature's model in [[features]]."
    )
}

pub fn item(config: &ConfigFile, telemetry: &Result<Telemetry, String>) -> Item {
    let mut findings = Findings::default();
    for feature in &config.features {
        match &feature.model {
            Some(model) => judge(&mut findings, &format!("feature {}", feature.name), model),
            None => findings.fail(
                format!("feature {} names no model in [[features]]", feature.name),
                format!(
                    "Add model = \"<dated snapshot>\" to the [[features]] entry of {}.",
                    feature.name
                ),
            ),
        }
    }
    if let Some(pin) = &config.mitigations.model_pin {
        let model = match pin {
            ModelPinConfig::Unleash { model, .. } | ModelPinConfig::Webhook { model, .. } => model,
        };
        judge(&mut findings, "[mitigations.model_pin] model", model);
    }
    match telemetry {
        Ok(telemetry) if telemetry.calls.is_empty() => findings.unknown(
            format!(
                "{}: no calls to read the requested models from",
                telemetry.source
            ),
            "Send the feature's calls to the configured telemetry source.",
        ),
        Ok(telemetry) => served(&mut findings, telemetry),
        Err(reason) => findings.unknown(
            format!("recent telemetry not read: {reason}"),
            "Configure [sources.events] with the file the calls are written to.",
        ),
    }
    findings.item(ID, TITLE)
}

fn judge(findings: &mut Findings, what: &str, model: &str) {
    match pinning(model) {
        Pinning::Pinned => findings.pass(format!("{what}: {model} is a dated snapshot")),
        Pinning::Floating => findings.fail(
            format!("{what}: {model} is a floating alias"),
            floating_fix(model),
        ),
    }
}

/// Each model the calls requested, with how often and what was served for it.
fn served(findings: &mut Findings, telemetry: &Telemetry) {
    let mut by_requested: BTreeMap<&str, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
    for call in &telemetry.calls {
        let (count, served) = by_requested.entry(&call.model_requested).or_default();
        *count += 1;
        if let Some(model) = &call.model_served {
            *served.entry(model).or_default() += 1;
        }
    }
    let total = telemetry.calls.len();
    for (requested, (count, served)) in by_requested {
        let others: Vec<(&str, usize)> = served
            .into_iter()
            .filter(|(model, _)| !same_model(model, requested))
            .collect();
        let listed: Vec<String> = others
            .iter()
            .map(|(model, n)| format!("{model} ({n})"))
            .collect();
        let listed = listed.join(", ");
        let source = &telemetry.source;
        match pinning(requested) {
            Pinning::Pinned if others.is_empty() => findings.pass(format!(
                "{source}: {count} of {total} calls requested {requested}, a dated snapshot"
            )),
            Pinning::Pinned => {
                let substituted: usize = others.iter().map(|(_, n)| n).sum();
                findings.fail(
                    format!(
                        "{source}: {substituted} of the {count} calls requesting the snapshot \
                         {requested} were served another model: {listed}"
                    ),
                    SUBSTITUTED_FIX,
                )
            }
            Pinning::Floating => {
                let served_as = if others.is_empty() {
                    String::new()
                } else {
                    format!(", served as {listed}")
                };
                findings.fail(
                    format!(
                        "{source}: {count} of {total} calls requested {requested}{served_as}, \
                         a floating alias"
                    ),
                    floating_fix(requested),
                )
            }
        }
    }
}

const SUBSTITUTED_FIX: &str = "Find what serves another model than the pinned snapshot (a \
                               gateway or router fallback, an Azure deployment whose model version \
                               upgrades automatically, a retired snapshot) and make it serve the \
                               snapshot requested, or pin the one that is served.";

/// Whether a served model name is the requested one, as providers and gateways spell it: case
/// aside, and with or without a "provider/" prefix (openai/gpt-4o-2024-08-06).
fn same_model(served: &str, requested: &str) -> bool {
    let bare = |name: &str| name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    bare(served) == bare(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_and_numbered_snapshots_are_pinned_and_aliases_float() {
        for pinned in [
            "gpt-4o-2024-08-06",
            "claude-3-5-sonnet-20241022",
            "gpt-4-0613",
            "gpt-3.5-turbo-0125",
            "gemini-1.5-pro-002",
            "mistral-large-2407",
            "claude-3-5-sonnet-v2@20241022",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "openai/gpt-4o-2024-08-06",
        ] {
            assert_eq!(pinning(pinned), Pinning::Pinned, "{pinned}");
        }
        for floating in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4",
            "claude-3-5-sonnet-latest",
            "chatgpt-4o-latest",
            "gemini-1.5-pro",
            "mistral-large-latest",
            "llama3:8b",
            "GPT-4O",
        ] {
            assert_eq!(pinning(floating), Pinning::Floating, "{floating}");
        }
    }
}
