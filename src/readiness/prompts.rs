//! "Prompt templates are in a registry with versions, and a rollback target exists": asks the
//! registry the prompt rollback names (Phoenix, Langfuse) for the deployed version and an
//! earlier one to move back to.

use super::facts::Backend;
use super::{Findings, Item};

pub const ID: &str = "prompt_registry";
const TITLE: &str = "Prompts are versioned in a registry, with a rollback target";

pub fn item(backend: &Backend) -> Item {
    let mut findings = Findings::default();
    match backend {
        Backend::NotConfigured => findings.fail(
            "no [mitigations.prompt_rollback]: no prompt registry is configured",
            "Keep the prompt in a registry (Phoenix or Langfuse), deploy it by a tag or label, \
             and name it in [mitigations.prompt_rollback] with its [actuators.*] section.",
        ),
        Backend::Misconfigured(reason) => findings.fail(
            reason.clone(),
            "Fix [mitigations.prompt_rollback] and its [actuators.*] section as the evidence says.",
        ),
        Backend::Unaskable(reason) => findings.unknown(
            reason.clone(),
            "Use a registry flightdeck can read (Phoenix or Langfuse), or confirm by hand.",
        ),
        Backend::Read(Err(reason)) => findings.unknown(
            format!("the registry could not be asked: {reason}"),
            "Make the registry reachable from here (URL, API key variable) and run check again.",
        ),
        Backend::Read(Ok(plan)) => match &plan.unavailable {
            Some(reason) => findings.fail(
                format!("{}: {reason}", plan.target),
                "Register the prompt with at least two versions and put the deploy tag (label) \
                 on the one the app serves, so there is an earlier version to roll back to.",
            ),
            None => findings.pass(format!(
                "{} ({}): deployed {}, rollback target {}, {} versions in all",
                plan.target,
                plan.backend,
                plan.from,
                plan.to,
                plan.choices.len() + 1
            )),
        },
    }
    findings.item(ID, TITLE)
}
