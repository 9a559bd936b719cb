//! Every built-in scenario: the incident opens soon after its change, the triage names the
//! scenario's category, and the right mitigation brings the alarming metrics back.

mod support;

use chrono::Duration;
use flightdeck::engine::triage::{Category, Verdict};
use flightdeck::model::Status;
use flightdeck::sim::scenario::BUILTIN;
use support::Harness;

#[test]
fn each_scenario_opens_an_incident_within_five_minutes_of_its_change() {
    for (name, _) in BUILTIN {
        let mut h = Harness::new(name);
        let change = h.incident_change_at();
        h.run_minutes((change - h.now()).num_minutes());
        assert!(
            h.app.incident.is_none(),
            "{name}: no incident before the change"
        );
        assert!(
            h.run_until(5, |app| app.incident.is_some()),
            "{name}: no incident within 5 minutes of the change"
        );
        let opened = h.app.incident.as_ref().unwrap().opened_at;
        assert!(
            opened - change <= Duration::minutes(5),
            "{name}: opened at {opened}"
        );
    }
}

#[test]
fn each_scenario_triage_names_its_category_with_the_others_not_likely() {
    for (name, _) in BUILTIN {
        let mut h = Harness::new(name);
        let expected = h.scenario().category.expect("built-ins plant a cause");
        let change = h.incident_change_at();
        h.run_past_change(12);
        let triage = h
            .triage()
            .unwrap_or_else(|| panic!("{name}: no triage 12 min after the change"));
        assert_eq!(triage.conclusion(), Some(expected), "{name}: {triage:#?}");
        for step in &triage.steps {
            if step.category != expected {
                assert_ne!(step.verdict, Verdict::Likely, "{name}: {step:?}");
            }
            assert!(
                !step.evidence.is_empty(),
                "{name}: {:?} has no evidence",
                step.category
            );
        }
        let onset = triage.onset;
        assert!(
            (onset - change).num_seconds().abs() <= 180,
            "{name}: onset {onset} vs change {change}"
        );
    }
}

#[test]
fn the_triage_is_right_and_quiet_before_the_change_across_seeds() {
    for (name, _) in BUILTIN {
        for seed in 1..=4 {
            let mut h = Harness::with_settings(name, seed, false);
            let change = h.incident_change_at();
            h.run_minutes((change - h.now()).num_minutes());
            assert!(
                h.app.incident.is_none(),
                "{name} seed {seed}: false alarm before the change"
            );
            h.run_minutes(12);
            let conclusion = h.triage().and_then(|t| t.conclusion());
            assert_eq!(conclusion, h.scenario().category, "{name} seed {seed}");
        }
    }
}

#[test]
fn the_red_herring_prompt_deploy_is_ruled_out_by_its_healthy_run() {
    let mut h = Harness::new("red-herring");
    h.run_past_change(12);
    let triage = h.triage().unwrap();
    let prompt = triage.step(Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::RuledOut);
    assert!(
        prompt
            .evidence
            .iter()
            .any(|e| e.contains("healthy for 1h50m")),
        "{prompt:?}"
    );
    let model = triage.step(Category::Model);
    assert!(model.evidence[0].contains("floating alias"), "{model:?}");
}

/// The mitigation key that fixes each category in the simulator.
fn fix_for(category: Category) -> char {
    match category {
        Category::Prompt => 'r',
        Category::Model => 'p',
        Category::Data | Category::Infrastructure => 'k',
    }
}

#[test]
fn the_right_mitigation_is_verified_within_a_few_minutes() {
    for (name, _) in BUILTIN {
        let mut h = Harness::new(name);
        h.run_past_change(10);
        let key = fix_for(h.scenario().category.expect("built-ins plant a cause"));
        h.apply_mitigation(key);
        assert!(
            h.run_until(10, |app| app
                .incident
                .as_ref()
                .is_some_and(|i| i.status == Status::Mitigated)),
            "{name}: `{key}` was not verified within 10 min; timeline: {:#?}",
            h.app
                .timeline
                .iter()
                .map(|l| &l.entry.text)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_wrong_mitigation_is_logged_as_not_recovering() {
    let mut h = Harness::new("prompt-regression");
    h.run_past_change(10);
    h.apply_mitigation('p');
    h.run_minutes(16);
    let verdict = h
        .app
        .timeline
        .iter()
        .find(|l| l.entry.kind.label() == "verify")
        .expect("a verification entry");
    assert!(
        verdict
            .entry
            .text
            .contains("did not bring the metrics back"),
        "{}",
        verdict.entry.text
    );
    assert_ne!(h.app.incident.as_ref().unwrap().status, Status::Mitigated);
}
