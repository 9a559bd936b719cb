//! The record never states what did not happen: each built-in incident handled with its
//! mitigation, then read back as the export a reviewer reads.

mod support;

use chrono::{DateTime, Duration, Utc};
use flightdeck::app::editing::EditTarget;
use flightdeck::app::keymap::Key;
use flightdeck::app::{Action, Overlay};
use flightdeck::incident::postmortem::{Options, Postmortem, load, markdown};
use flightdeck::model::{EntryKind, NamedTime, Status, TimelineEntry};
use support::Harness;

/// The scenario's incident detected, acknowledged, mitigated on `key`, verified, then resolved
/// twenty minutes later: the flow a responder follows.
fn handled(scenario: &str, key: char) -> (Harness, Postmortem) {
    let mut h = Harness::new(scenario);
    h.mitigate_incident(key);
    h.run_minutes(20);
    h.press(Key::Char('x'));
    let id = h.app.incident.as_ref().unwrap().id.clone();
    let record = load::load(h.data_dir(), &id).unwrap();
    assert!(record.problems.is_empty(), "{:?}", record.problems);
    let postmortem = Postmortem::build(&record, &Options::default());
    (h, postmortem)
}

fn entries(h: &Harness) -> Vec<TimelineEntry> {
    h.app.timeline.iter().map(|l| l.entry.clone()).collect()
}

/// Every impact start the record ever set, in order.
fn impact_starts(h: &Harness) -> Vec<DateTime<Utc>> {
    entries(h)
        .iter()
        .filter_map(|e| match e.kind {
            EntryKind::TimeSet {
                time: NamedTime::ImpactStart,
                to,
                ..
            } => Some(to),
            _ => None,
        })
        .collect()
}

/// When the mitigation that was verified took effect.
fn applied_at(h: &Harness) -> DateTime<Utc> {
    entries(h)
        .iter()
        .find(|e| matches!(e.kind, EntryKind::ActionApplied { .. }))
        .map(|e| e.ts)
        .expect("a mitigation was applied")
}

/// What every handled incident's record must hold, whatever its kind.
fn assert_truthful(h: &Harness, pm: &Postmortem, impact_metric: &str) {
    let change = h.incident_change_at();
    let incident = h.app.incident.as_ref().unwrap();
    let start = incident.impact_start.expect("an impact start");
    assert!(
        (start - change).num_seconds().abs() <= 120,
        "impact start {start} is more than 2 min from the scripted change at {change}"
    );
    let starts = impact_starts(h);
    assert!(
        starts.windows(2).all(|w| w[1] <= w[0]),
        "the impact start only ever moved earlier: {starts:?}"
    );
    let detected = incident.detected_at.unwrap();
    let mitigated = incident.mitigated_at.unwrap();
    assert!(start <= detected && detected <= mitigated);
    assert_eq!(
        mitigated,
        applied_at(h),
        "mitigated when the verified mitigation took effect, not when its check ended"
    );
    let impact = pm.impact.as_ref().expect("an impact");
    assert_eq!(impact.metric, impact_metric, "{}", impact.sentence);
    assert_eq!((impact.start, impact.end), (start, mitigated));
    let md = markdown::render(pm);
    assert!(!md.contains("out of order"), "{md}");
}

/// The metrics whose alarms came only after the mitigation: its effects, never the incident's.
fn assert_no_alert_suggested_for(pm: &Postmortem, labels: &[&str]) {
    for item in &pm.action_items {
        for label in labels {
            assert!(
                !item.item.contains(label),
                "an action item for {label}, which moved only after the mitigation: {}",
                item.item
            );
        }
    }
}

#[test]
fn a_kill_switch_on_a_provider_outage_is_told_by_the_failed_calls_and_its_fallback_is_its_effect() {
    let (h, pm) = handled("provider-degradation", 'k');
    assert_truthful(&h, &pm, "failed");
    let impact = pm.impact.as_ref().unwrap();
    assert!(
        impact
            .sentence
            .contains("failed (an error, a timeout or a rate limit)"),
        "{}",
        impact.sentence
    );
    let entries = entries(&h);
    let applied = applied_at(&h);
    let effects: Vec<&TimelineEntry> = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::MitigationEffect { .. }))
        .collect();
    assert!(
        effects
            .iter()
            .any(|e| e.text.contains("expected from the kill switch")),
        "the fallback's alarms are logged as the kill switch's effects: {effects:?}"
    );
    let detected_after: Vec<&str> = entries
        .iter()
        .filter(|e| e.ts > applied)
        .filter_map(|e| match &e.kind {
            EntryKind::Detection { metric, state } if state != "ok" => Some(metric.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        !detected_after.contains(&"similarity") && !detected_after.contains(&"thumbs_down_rate"),
        "no detection of what the fallback moved: {detected_after:?}"
    );
    assert_no_alert_suggested_for(&pm, &["Similarity", "Feedback down"]);
    let chain = &pm.mitigations[0];
    assert!(chain.steps.iter().any(|s| s.stage == "effect"));
}

#[test]
fn a_rollback_on_a_prompt_regression_quotes_the_word_diff_and_claims_no_ci_it_cannot_see() {
    let (h, pm) = handled("prompt-regression", 'r');
    assert_truthful(&h, &pm, "hallucination_rate");
    let prompt = pm
        .root_cause
        .prompt_change
        .as_ref()
        .expect("the triage suggests the prompt, so its change is quoted");
    assert!(
        prompt
            .diff
            .contains("[-Answer only from the provided context.-]"),
        "{}",
        prompt.diff
    );
    let md = markdown::render(&pm);
    assert!(!md.contains("No evaluation in CI covered"), "{md}");
    let kinds: Vec<&str> = pm
        .timeline
        .entries
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    for key in ["opened", "triage", "applied", "verify", "status"] {
        assert!(
            kinds.contains(&key),
            "the default timeline holds {key}: {kinds:?}"
        );
    }
}

#[test]
fn a_pin_on_a_silent_model_update_is_told_by_the_schema_failures() {
    let (h, pm) = handled("silent-model-update", 'p');
    assert_truthful(&h, &pm, "schema_compliance");
    let impact = pm.impact.as_ref().unwrap();
    assert!(impact.sentence.contains("broke the output schema"));
    assert!(
        pm.summary
            .generated
            .contains("the share of requests that broke the output schema rose"),
        "a good-share metric is told by what went wrong: {}",
        pm.summary.generated
    );
}

/// The baseline the engine judges Hallucination against now.
fn hallucination_baseline(h: &Harness) -> f64 {
    h.app
        .assessment
        .as_ref()
        .and_then(|a| a.reading(flightdeck::engine::metrics::MetricId::Hallucination))
        .and_then(|r| r.baseline)
        .expect("a Hallucination baseline")
}

#[test]
fn declaring_asks_for_a_title_and_starts_fresh_after_a_resolved_incident() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(60, |app| app.incident.is_some()));
    // Resolved too early: the regression goes on.
    h.press(Key::Char('x'));
    let first = h.app.incident.clone().unwrap();
    let baseline_before = hallucination_baseline(&h);
    h.run_minutes(40);

    h.press(Key::Char('d'));
    assert!(matches!(
        &h.app.overlay,
        Some(Overlay::Editor(e)) if e.target == EditTarget::Declaration
    ));
    h.press(Key::Esc);
    assert_eq!(
        h.app.incident.as_ref().unwrap().id,
        first.id,
        "Esc declares nothing"
    );
    h.press(Key::Char('d'));
    h.dispatch(Action::TextSubmitted("   ".into()));
    assert!(
        matches!(&h.app.overlay, Some(Overlay::Editor(e)) if e.error.is_some()),
        "an empty title is refused with the reason"
    );
    h.dispatch(Action::TextSubmitted("Answers still invent refunds".into()));
    let declared = h.app.incident.clone().unwrap();
    assert_ne!(declared.id, first.id);
    assert_eq!(declared.title, "Answers still invent refunds");
    assert_eq!(declared.status, Status::Detected);
    assert!(h.app.triage.is_none(), "no earlier incident's triage");
    let at = h.now();
    assert_eq!(
        declared.impact_start,
        Some(at),
        "the declaration starts the impact"
    );

    h.run_minutes(2);
    let declared = h.app.incident.clone().unwrap();
    let resolved = first.resolved_at.unwrap();
    assert!(
        declared.impact_start.unwrap() >= resolved,
        "no impact start inside the earlier incident: {:?} < {resolved}",
        declared.impact_start
    );
    let baseline_after = hallucination_baseline(&h);
    assert!(
        (baseline_after - baseline_before).abs() < 0.01,
        "the baseline excludes the earlier incident: {baseline_before} then {baseline_after}"
    );
    let window = h.app.assessment.as_ref().unwrap().baseline.unwrap();
    assert!(window.to <= first.opened_at, "{window:?}");
    assert!(at - first.opened_at > Duration::minutes(30));
}

#[test]
fn a_metric_hovering_at_its_limit_is_not_logged_at_every_crossing() {
    let mut h = Harness::new("silent-model-update");
    assert!(h.run_until(60, |app| app.incident.is_some()));
    h.run_minutes(90);
    let per_metric = |metric: &str| {
        entries(&h)
            .iter()
            .filter(|e| matches!(&e.kind, EntryKind::Detection { metric: m, .. } if m == metric))
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
    };
    for id in flightdeck::engine::metrics::MetricId::ALL {
        let metric = id.key();
        let logged = per_metric(metric);
        // At most: the alarm, its escalation, its recovery, a flapping run's start and its sum.
        assert!(logged.len() <= 5, "{metric}: {logged:#?}");
        let recoveries = logged.iter().filter(|t| t.contains("back to ok")).count();
        assert!(recoveries <= 1, "{metric}: {logged:#?}");
    }
}
