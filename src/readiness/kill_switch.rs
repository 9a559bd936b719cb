//! "Every AI feature has a kill-switch flag with a defined fallback": asks the flag backend that
//! the flag exists in the configured environment, and the config what each feature falls back to.

use super::facts::Backend;
use super::{Findings, Item};
use crate::config::file::ConfigFile;

pub const ID: &str = "kill_switch";
const TITLE: &str = "Every AI feature has a kill-switch flag with a defined fallback";

pub fn item(config: &ConfigFile, backend: &Backend) -> Item {
    let mut findings = Findings::default();
    match backend {
        Backend::NotConfigured => findings.fail(
            "no [mitigations.kill_switch]: no flag turns the AI feature off",
            "Create a flag the app checks before calling the model (on: AI serves, off: the \
             fallback) and name it in [mitigations.kill_switch].",
        ),
        Backend::Misconfigured(reason) => findings.fail(
            reason.clone(),
            "Fix [mitigations.kill_switch] and its [actuators.*] section as the evidence says.",
        ),
        Backend::Unaskable(reason) => findings.unknown(
            reason.clone(),
            "Use a flag backend flightdeck can read (Unleash, flagd), or confirm by hand.",
        ),
        Backend::Read(Err(reason)) => findings.unknown(
            format!("the flag backend could not be asked: {reason}"),
            "Make the flag backend reachable from here (URL, token variable) and run check again.",
        ),
        Backend::Read(Ok(plan)) => match &plan.unavailable {
            Some(reason) => findings.fail(
                format!("{}: {reason}", plan.target),
                format!(
                    "Create the flag in the flag backend ({}), in the environment the app runs \
                     in, and have the app serve the fallback while it is off.",
                    plan.backend
                ),
            ),
            None => findings.pass(format!(
                "{} ({}) exists, now {}",
                plan.target, plan.backend, plan.from
            )),
        },
    }
    if config.features.is_empty() {
        findings.fail(
            "no [[features]]: no feature names the fallback the kill switch serves",
            "Add a [[features]] entry per AI feature with its fallback.",
        );
    }
    for feature in &config.features {
        match &feature.fallback {
            Some(fallback) => findings.pass(format!(
                "feature {} falls back to: {fallback}",
                feature.name
            )),
            None => findings.fail(
                format!("feature {} names no fallback", feature.name),
                format!(
                    "Add fallback = \"...\" to the [[features]] entry of {}: what users get \
                     while the kill switch is off.",
                    feature.name
                ),
            ),
        }
    }
    findings.item(ID, TITLE)
}
