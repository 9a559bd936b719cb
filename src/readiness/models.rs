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

/// Whether a model name names a snapshot: "latest" anywhere makes it floating; otherwise it is
/// pinned by a part of three or more digits (a date like 2024-08-06 or 20241022, a version like
/// 002 or 0613), by two two-digit parts in a row that make a month and day (preview-05-06), or by
/// a Bedrock version suffix like v1:0. A deployment name (Azure) is judged like any other name,
/// though it says nothing of the model version behind it (docs/readiness.md).
pub fn pinning(model: &str) -> Pinning {
    let lower = model.to_ascii_lowercase();
    let parts: Vec<&str> = lower
        .split(['-', '_', '@', ':', '.', '/'])
        .filter(|part| !part.is_empty())
        .collect();
    if parts.contains(&"latest") {
        return Pinning::Floating;
    }
    let numbered = parts.iter().any(|part| part.len() >= 3 && all_digits(part));
    let month_day = parts.windows(2).any(|pair| is_month_day(pair[0], pair[1]));
    if numbered || month_day || has_bedrock_version(&lower) {
        Pinning::Pinned
    } else {
        Pinning::Floating
    }
}

fn all_digits(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// "05", "06": two two-digit parts that make a calendar month and day.
fn is_month_day(month: &str, day: &str) -> bool {
    let two_digits = |part: &str| part.len() == 2 && all_digits(part);
    if !two_digits(month) || !two_digits(day) {
        return false;
    }
    match (month.parse::<u32>(), day.parse::<u32>()) {
        (Ok(month), Ok(day)) => (1..=12).contains(&month) && (1..=31).contains(&day),
        _ => false,
    }
}

/// A Bedrock model version at the end of a part: amazon.nova-pro-v1:0.
fn has_bedrock_version(lower: &str) -> bool {
    lower.split(['-', '_', '@', '.', '/']).any(|part| {
        part.split_once(':').is_some_and(|(version, revision)| {
            version.strip_prefix('v').is_some_and(all_digits) && all_digits(revision)
        })
    })
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
            super::unread_telemetry_fix(config),
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
            "gemini-2.5-pro-preview-05-06",
            "gemini-2.0-flash-thinking-exp-01-21",
            "amazon.nova-pro-v1:0",
            "meta.llama3-70b-instruct-v1:0",
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
            "gpt-4.5-preview",
            "gemini-2.5-pro-preview-13-06",
            "llama-3-8b-instruct:q4",
            "model-v1",
        ] {
            assert_eq!(pinning(floating), Pinning::Floating, "{floating}");
        }
    }
}
