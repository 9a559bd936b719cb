//! What an incident records beside its timeline, and the record's edits: minute samples from
//! before the onset to after resolution, failing calls of the metrics that alarmed, the impact
//! start the engine estimates.

mod support;

use flightdeck::incident::store;
use flightdeck::model::{FailingCall, MinuteSample, NamedTime};
use support::Harness;

#[test]
fn a_handled_incident_keeps_its_minutes_and_failing_calls() {
    let mut h = Harness::new("prompt-regression");
    h.handle_prompt_incident();
    let incident = h.app.incident.clone().unwrap();
    let id = &incident.id;

    let samples = store::load_lines::<MinuteSample>(h.data_dir(), id, store::SAMPLES_FILE).unwrap();
    assert!(samples.bad_lines.is_empty());
    let minutes: Vec<_> = samples.items.iter().map(|s| s.minute).collect();
    assert!(
        minutes.windows(2).all(|w| w[0] < w[1]),
        "one line per minute, in order"
    );
    let impact = incident.impact_start.expect("the onset estimate");
    assert!(minutes[0] < impact, "the minutes start before the impact");
    assert!(
        *minutes.last().unwrap() >= incident.resolved_at.unwrap() - chrono::Duration::minutes(1)
    );
    let peak = samples
        .items
        .iter()
        .filter_map(|s| s.metrics.get("hallucination_rate")?.value)
        .fold(0.0, f64::max);
    assert!(
        peak > 0.15,
        "the hallucination peak is in the samples: {peak}"
    );

    let examples =
        store::load_lines::<FailingCall>(h.data_dir(), id, store::EXAMPLES_FILE).unwrap();
    assert!(!examples.items.is_empty() && examples.items.len() <= 20);
    assert!(examples.items.iter().all(|e| !e.failed.is_empty()));

    assert!(
        h.app
            .timeline
            .iter()
            .any(|l| l.entry.kind.label() == "time" && l.entry.text.contains("onset estimate")),
        "the impact start is logged"
    );
    assert_eq!(incident.time(NamedTime::ImpactStart), Some(impact));
    assert!(incident.time_to_detect().unwrap() > chrono::Duration::zero());
}
