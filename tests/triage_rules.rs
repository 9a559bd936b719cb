//! The triage rules on whole simulated streams through the headless replay: the decoys a tired
//! human falls for (a change after the onset, a prompt change hours before a model change), a
//! healthy stream, and a canary whose new version carries the excess.

use flightdeck::engine::EngineConfig;
use flightdeck::engine::triage::{Category, Verdict};
use flightdeck::headless::{Replay, StepReport, TriageReport};
use flightdeck::model::MitigationKind;
use flightdeck::sim::scenario::{BUILTIN, Scenario};
use flightdeck::sim::schema_registry;

/// The red-herring scenario with its prompt deploy and model move at the given offsets.
fn red_herring_with(prompt_at: &str, model_at: &str) -> Scenario {
    let text = builtin_text("red-herring")
        .replacen("at = \"15m\"", &format!("at = \"{prompt_at}\""), 1)
        .replacen("at = \"2h05m\"", &format!("at = \"{model_at}\""), 1);
    Scenario::parse("red-herring (moved)", &text).expect("a valid scenario")
}

fn builtin_text(name: &str) -> String {
    BUILTIN
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, text)| text.to_string())
        .expect("a built-in scenario")
}

fn triage(scenario: Scenario) -> TriageReport {
    Replay::new(EngineConfig::default(), schema_registry()).run_scenario(scenario, 7)
}

fn step(report: &TriageReport, name: Category) -> &StepReport {
    report
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} step in {report:#?}"))
}

/// The model is blamed and the prompt step rules its deploy out with a line containing `reason`.
fn assert_model_with_prompt_ruled_out(report: &TriageReport, reason: &str) {
    assert_eq!(report.category, "model", "{report:#?}");
    let prompt = step(report, Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::RuledOut, "{prompt:#?}");
    assert!(
        prompt.evidence.iter().any(|line| line.contains(reason)),
        "{prompt:#?}"
    );
}

#[test]
fn a_prompt_change_three_hours_before_a_model_change_is_ruled_out() {
    let report = triage(red_herring_with("15m", "3h15m"));
    assert_model_with_prompt_ruled_out(&report, "v12 deployed 13:50, 3h");
    let recommendation = report.recommendation.expect("a recommendation");
    assert_eq!(
        recommendation.kind,
        MitigationKind::ModelPin,
        "{recommendation:#?}"
    );
}

#[test]
fn a_prompt_deploy_after_the_onset_cannot_be_its_cause() {
    let report = triage(red_herring_with("2h15m", "2h05m"));
    assert_model_with_prompt_ruled_out(&report, "after onset: not the cause");
}

#[test]
fn a_healthy_stream_declares_nothing_and_says_none() {
    let scenario = red_herring_with("15m", "2h05m");
    let mut healthy = scenario.clone();
    healthy.events.clear();
    let report = triage(healthy);
    assert_eq!(report.category, "none", "{report:#?}");
    assert_eq!(report.declared_at, None);
    assert!(report.recommendation.is_none());
}

#[test]
fn a_canary_prompt_is_blamed_through_its_share_of_the_excess() {
    let text = builtin_text("prompt-regression").replacen(
        "kind = \"prompt_deploy\"",
        "kind = \"prompt_deploy\"\ncanary = 0.7",
        1,
    );
    let report = triage(Scenario::parse("prompt-regression (canary)", &text).unwrap());
    assert_eq!(report.category, "prompt", "{report:#?}");
    assert!(
        report
            .blast_radius
            .iter()
            .any(|line| line.starts_with("Hallucination") && line.contains("on prompt v8")),
        "{:#?}",
        report.blast_radius
    );
    let recommendation = report.recommendation.expect("a recommendation");
    assert_eq!(recommendation.to.as_deref(), Some("v7"));
}
