//! Randomized scenarios for measuring the triage: one of the four causes or none, with random
//! rates, traffic, canary shares, timing and decoy changes, written as scenario files so that
//! the same validation applies to them as to a user's.

use super::rng::Rng;
use super::scenario::{Scenario, ScenarioError};
use crate::engine::triage::Category;

/// A generated scenario and what it plants.
#[derive(Debug, Clone)]
pub struct Generated {
    pub scenario: Scenario,
    /// The cause planted, or `None` for a healthy stream.
    pub cause: Option<Category>,
    /// Minutes from the scenario's start to the planted change.
    pub change_at_minutes: i64,
    /// The decoy planted, in words.
    pub decoy: &'static str,
    pub toml: String,
}

/// The causes in turn, a healthy stream every fifth.
pub fn cause_for(index: u64) -> Option<Category> {
    match index % 5 {
        0 => Some(Category::Prompt),
        1 => Some(Category::Model),
        2 => Some(Category::Data),
        3 => Some(Category::Infrastructure),
        _ => None,
    }
}

/// The base prompt text; the planted and decoy versions edit it.
const PROMPT: &str = "You are the support assistant for Acme Outfitters. Answer only from the provided context. Reply with JSON that matches the support_answer schema.";

fn prompt(version: &str, text: &str, hallucination: f64) -> String {
    format!(
        "{{ version = \"{version}\", text = \"{text}\", hallucination = {hallucination:.3}, refusal = 0.02 }}"
    )
}

fn offset(minutes: i64) -> String {
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

/// The scenario numbered `index` of a seeded series.
pub fn generate(index: u64, seed: u64) -> Result<Generated, ScenarioError> {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let cause = cause_for(index);
    let traffic = 20.0 + rng.unit() * 100.0;
    let base_hallucination = 0.02 + rng.unit() * 0.04;
    // A decoy three hours before needs the baseline to start earlier still.
    let decoy_kind = rng.below(3);
    let lead = if decoy_kind == 0 { 200 } else { 60 };
    let change_at = lead + 5 + rng.below(40) as i64;
    // Canary shares and effect sizes are drawn so the change moves the whole feature by at
    // least ten points: the level at which an incident is declared.
    let share = 0.5 + rng.unit() * 0.5;
    let effect = (0.10 / share) + rng.unit() * 0.12;
    let canary = if share < 0.95 {
        format!(", canary = {share:.2}")
    } else {
        String::new()
    };
    let mut prompts = vec![prompt("v1", PROMPT, base_hallucination)];
    let mut models = vec![
        "{ snapshot = \"gpt-4o-2024-08-06\", schema_violation = 0.01, latency_ms = 1100 }"
            .to_string(),
    ];
    let mut sources = vec![
        "{ name = \"web-chat\", weight = 0.65, topic = \"support\" }".to_string(),
        "{ name = \"mobile-app\", weight = 0.35, topic = \"support\" }".to_string(),
    ];
    let mut events = Vec::new();
    // Decoys: an innocent prompt deploy long before, or an innocent one after the onset.
    let decoy = match decoy_kind {
        0 => {
            prompts.push(prompt(
                "v0-decoy",
                &format!("{PROMPT} Be brief."),
                base_hallucination,
            ));
            events.push(format!(
                "{{ at = \"{}\", kind = \"prompt_deploy\", version = \"v0-decoy\", author = \"decoy\" }}",
                offset(change_at - 185)
            ));
            "innocent prompt deploy 3h05m before"
        }
        1 => {
            prompts.push(prompt(
                "v1-decoy",
                &format!("{PROMPT} Be polite."),
                base_hallucination,
            ));
            events.push(format!(
                "{{ at = \"{}\", kind = \"prompt_deploy\", version = \"v1-decoy\", author = \"decoy\" }}",
                offset(change_at + 8 + rng.below(10) as i64)
            ));
            "innocent prompt deploy after the onset"
        }
        _ => "none",
    };
    let bad_prompt = (base_hallucination + effect).min(0.6);
    match cause {
        Some(Category::Prompt) => {
            prompts.push(prompt(
                "v2",
                &PROMPT.replace(" Answer only from the provided context.", ""),
                bad_prompt,
            ));
            events.push(format!(
                "{{ at = \"{}\", kind = \"prompt_deploy\", version = \"v2\", author = \"dev\"{canary} }}",
                offset(change_at)
            ));
        }
        Some(Category::Model) => {
            let schema_violation = (0.01 + effect).min(0.6);
            models.push(format!(
                "{{ snapshot = \"gpt-4o-2024-11-20\", schema_violation = {schema_violation:.3}, latency_ms = 950 }}"
            ));
            events.push(format!(
                "{{ at = \"{}\", kind = \"model_snapshot\", snapshot = \"gpt-4o-2024-11-20\"{canary} }}",
                offset(change_at)
            ));
        }
        Some(Category::Data) => {
            sources.push(
                "{ name = \"partner-widget\", weight = 0.0, topic = \"off-topic\" }".to_string(),
            );
            events.push(format!(
                "{{ at = \"{}\", kind = \"traffic\", source = \"partner-widget\", weight = {:.2} }}",
                offset(change_at),
                0.3 + rng.unit() * 0.5
            ));
        }
        Some(Category::Infrastructure) => {
            let failing = 0.08 + rng.unit() * 0.15;
            events.push(format!(
                "{{ at = \"{}\", kind = \"provider\", provider = {{ error = 0.01, timeout = {:.3}, rate_limited = {:.3}, latency_factor = {:.1} }} }}",
                offset(change_at),
                failing / 2.0,
                failing / 2.0,
                1.5 + rng.unit() * 2.0
            ));
        }
        None => {}
    }
    let toml = format!(
        "name = \"generated-{index}\"\nsummary = \"generated\"\ncategory = \"{}\"\n\
         start = \"2026-03-14T10:00:00Z\"\ncalls_per_minute = {traffic:.1}\n\
         prompts = [{}]\nmodels = [{}]\nsources = [{}]\nevents = [{}]\n\n\
         [initial]\nprompt = \"v1\"\nmodel = \"gpt-4o-2024-08-06\"\n",
        cause.map_or("none", Category::key),
        prompts.join(", "),
        models.join(", "),
        sources.join(", "),
        events.join(", "),
    );
    let scenario = Scenario::parse(&format!("generated-{index}"), &toml)?;
    Ok(Generated {
        scenario,
        cause,
        change_at_minutes: change_at,
        decoy,
        toml,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_scenario_is_valid_and_plants_its_cause() {
        for index in 0..25 {
            let generated = generate(index, 7).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(generated.cause, cause_for(index));
            let events = generated.scenario.events.len();
            let planted = usize::from(generated.cause.is_some());
            let decoys = usize::from(generated.decoy != "none");
            assert_eq!(events, planted + decoys, "{}", generated.toml);
        }
    }
}
