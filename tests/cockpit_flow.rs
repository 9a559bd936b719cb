//! The app driven through actions, as a responder would: an incident is detected, a rollback is
//! requested and confirmed, the metric recovers, and every step is on disk.

mod support;

use flightdeck::app::editing::{EditTarget, Editor};
use flightdeck::app::keymap::{Command, Key};
use flightdeck::app::{Action, Overlay, Persisted, Resumed};
use flightdeck::engine::metrics::{MetricId, MetricState};
use flightdeck::incident::store;
use flightdeck::model::{EntryKind, Incident, MitigationKind, Outcome, Status};
use support::Harness;

fn labels(h: &Harness) -> Vec<&'static str> {
    h.app
        .timeline
        .iter()
        .map(|l| l.entry.kind.label())
        .collect()
}

#[test]
fn detected_then_rolled_back_then_recovered_all_on_disk() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(45, |app| app.incident.is_some()), "no incident");
    let incident = h.app.incident.clone().unwrap();
    assert_eq!(incident.status, Status::Detected);
    assert_eq!(h.app.timeline[0].entry.kind.label(), "opened");

    h.run_minutes(5);
    h.press(Key::Char('a'));
    assert_eq!(
        h.app.incident.as_ref().unwrap().status,
        Status::Investigating
    );

    h.press(Key::Char('r'));
    let Some(Overlay::Confirm { plan, focus, .. }) = &h.app.overlay else {
        panic!("no confirm dialog");
    };
    assert_eq!((plan.from.as_str(), plan.to.as_str()), ("v8", "v7"));
    assert_eq!(
        *focus,
        flightdeck::app::Button::Cancel,
        "Cancel is focused first"
    );
    h.press(Key::Right);
    h.press(Key::Enter);
    assert!(h.app.overlay.is_none());

    let recovered = h.run_until(10, |app| {
        app.incident
            .as_ref()
            .is_some_and(|i| i.status == Status::Mitigated)
    });
    assert!(recovered, "not mitigated: {:?}", labels(&h));
    let hallucination = h
        .app
        .assessment
        .as_ref()
        .unwrap()
        .reading(MetricId::Hallucination)
        .unwrap();
    assert_eq!(hallucination.state, MetricState::Ok);

    let kinds = labels(&h);
    for expected in [
        "opened", "detect", "triage", "change", "status", "request", "confirm", "result", "verify",
    ] {
        assert!(
            kinds.contains(&expected),
            "no {expected} entry in {kinds:?}"
        );
    }
    let result = h
        .app
        .timeline
        .iter()
        .find_map(|l| match &l.entry.kind {
            EntryKind::ActionResult { outcome, .. } => Some((*outcome, l.entry.text.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(result.0, Outcome::Succeeded);
    assert!(
        result.1.contains("live prompt v7"),
        "read-back: {}",
        result.1
    );
    assert!(
        h.app
            .timeline
            .iter()
            .all(|l| l.persisted == Persisted::OnDisk)
    );

    let on_disk = store::load(h.data_dir(), &incident.id).unwrap();
    assert!(on_disk.bad_lines.is_empty());
    let in_memory: Vec<_> = h.app.timeline.iter().map(|l| l.entry.clone()).collect();
    assert_eq!(on_disk.entries, in_memory);
    let folded = Incident::from_timeline(&on_disk.entries).unwrap();
    assert_eq!(folded.status, Status::Mitigated);
    assert!(folded.mitigated_at.is_some());
}

#[test]
fn cancelling_a_mitigation_changes_nothing_and_is_logged() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(45, |app| app.incident.is_some()));
    h.press(Key::Char('k'));
    h.press(Key::Enter);
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.in_flight, None);
    let kinds = labels(&h);
    assert!(kinds.ends_with(&["request", "cancel"]), "{kinds:?}");
    let kill = h.app.plan(MitigationKind::KillSwitch).unwrap();
    assert_eq!(kill.from, "on (AI)", "the kill switch was not touched");
}

#[test]
fn read_only_refuses_mitigations_without_logging_them() {
    let mut h = Harness::with_settings("prompt-regression", support::SEED, true);
    assert!(h.run_until(45, |app| app.incident.is_some()));
    let before = h.app.timeline.len();
    h.press(Key::Char('r'));
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.timeline.len(), before);
    assert!(h.app.message.as_ref().unwrap().1.contains("read-only"));
}

#[test]
fn a_note_is_logged_with_the_user_as_actor() {
    let mut h = Harness::new("prompt-regression");
    h.press(Key::Char('n'));
    assert!(h.app.overlay.is_none(), "no note without an incident");
    h.declare("Declared by oncall");
    assert_eq!(
        h.app.incident.as_ref().unwrap().severity.to_string(),
        "SEV3"
    );
    h.press(Key::Char('n'));
    assert!(matches!(
        &h.app.overlay,
        Some(Overlay::Editor(Editor {
            target: EditTarget::Note,
            ..
        }))
    ));
    h.dispatch(Action::TextSubmitted(
        "paged the prompt owner\nrollback ready".into(),
    ));
    let note = h.app.timeline.last().unwrap();
    assert_eq!(note.entry.kind, EntryKind::Note);
    assert_eq!(note.entry.actor, "oncall");
    assert_eq!(note.entry.text, "paged the prompt owner\nrollback ready");
    assert_eq!(note.persisted, Persisted::OnDisk);
}

#[test]
fn an_entry_is_shown_as_logged_only_after_the_writer_confirms_it() {
    let mut h = Harness::new("prompt-regression");
    h.app.update(Action::Command(Command::Declare));
    let effects = h
        .app
        .update(Action::TextSubmitted("Answers invent refunds".into()));
    assert_eq!(
        effects.len(),
        3,
        "the opening, who leads, the impact start: {effects:?}"
    );
    assert_eq!(h.app.timeline[0].persisted, Persisted::Pending);
    let seq = h.app.timeline[0].entry.seq;
    let incident_id = h.app.incident.as_ref().unwrap().id.clone();
    // A report about another incident's entry with the same number changes nothing.
    h.app.update(Action::EntryPersisted {
        incident_id: "INC-OTHER".into(),
        seq,
    });
    assert_eq!(h.app.timeline[0].persisted, Persisted::Pending);
    h.app.update(Action::EntryPersistFailed {
        incident_id,
        seq,
        error: "disk full".into(),
    });
    assert_eq!(
        h.app.timeline[0].persisted,
        Persisted::Failed("disk full".into())
    );
    assert!(h.app.message.as_ref().unwrap().1.contains("disk full"));
    let frame = h.render(120, 35);
    assert!(frame.contains("✗ opened"), "{frame}");
}

#[test]
fn a_reopened_incident_shows_its_whole_history_and_continues_it() {
    let mut first = Harness::new("prompt-regression");
    assert!(first.run_until(45, |app| app.incident.is_some()));
    first.run_minutes(3);
    let id = first.app.incident.as_ref().unwrap().id.clone();
    let recorded = store::load(first.data_dir(), &id).unwrap().entries;

    let mut second = Harness::resuming(
        "prompt-regression",
        Resumed {
            entries: recorded.clone(),
            ..Resumed::default()
        },
    );
    assert_eq!(second.app.incident.as_ref().unwrap().id, id);
    assert_eq!(second.app.timeline.len(), recorded.len());
    // The resumed source replays the same history: none of it is logged a second time.
    let replay = (recorded.last().unwrap().ts - second.now()).num_minutes() + 1;
    second.run_minutes(replay);
    assert_eq!(
        second.app.timeline.len(),
        recorded.len(),
        "{:?}",
        labels(&second)
    );
    second.press(Key::Char('a'));
    let added: Vec<(u64, &str)> = second.app.timeline[recorded.len()..]
        .iter()
        .map(|l| (l.entry.seq, l.entry.kind.label()))
        .collect();
    let next = recorded.len() as u64 + 1;
    // Acknowledging an incident nobody leads makes the acknowledger its commander.
    assert_eq!(added, [(next, "status"), (next + 1, "role")]);
}

#[test]
fn resolving_during_the_same_alarm_does_not_open_a_new_incident() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(45, |app| app.incident.is_some()));
    let id = h.app.incident.as_ref().unwrap().id.clone();
    h.press(Key::Char('x'));
    assert_eq!(h.app.incident.as_ref().unwrap().status, Status::Resolved);
    h.run_minutes(5);
    assert_eq!(
        h.app.incident.as_ref().unwrap().id,
        id,
        "no second incident for the same alarm"
    );
}

#[test]
fn the_incident_keeps_its_triage_after_the_alarm_is_over() {
    let mut h = Harness::new("prompt-regression");
    h.run_past_change(10);
    h.apply_mitigation('r');
    // 30 healthy minutes end the episode; a chance warning among 13 metrics can restart the count.
    assert!(
        h.run_until(90, |app| app
            .assessment
            .as_ref()
            .is_some_and(|a| a.episode.is_none())),
        "the alarm episode ends once every metric has been healthy for 30 minutes"
    );
    assert_eq!(
        h.app.triage.as_ref().and_then(|t| t.conclusion()),
        Some(flightdeck::engine::triage::Category::Prompt)
    );
    let frame = h.render(120, 35);
    assert!(
        frame.contains("→ PROMPT 95% · prompt rollback applied"),
        "{frame}"
    );
    assert!(
        !frame.contains("◀ suggested"),
        "nothing is suggested once mitigated: {frame}"
    );
}

#[test]
fn a_mitigation_confirmed_on_a_stale_plan_changes_nothing() {
    let mut h = Harness::new("prompt-regression");
    h.run_past_change(10);
    h.press(Key::Char('k'));
    // Someone else flips the kill switch while the dialog is open.
    let stale = h.app.plan(MitigationKind::KillSwitch).unwrap().clone();
    h.sim.apply(&stale).unwrap();
    h.press(Key::Right);
    h.press(Key::Enter);
    let result = h
        .app
        .timeline
        .iter()
        .rev()
        .find(|l| l.entry.kind.label() == "result")
        .unwrap();
    assert!(
        result.entry.text.contains("the state moved"),
        "{}",
        result.entry.text
    );
    assert!(h.app.applied.is_empty());
}

#[test]
fn confirming_with_no_incident_declares_one_and_cancelling_does_not() {
    let mut h = Harness::new("prompt-regression");
    h.run_minutes(20);
    h.press(Key::Char('k'));
    h.press(Key::Esc);
    assert!(
        h.app.incident.is_none(),
        "a cancelled dialog opens no incident"
    );
    h.apply_mitigation('k');
    assert_eq!(labels(&h)[..4], ["opened", "role", "request", "confirm"]);
    let verify = h
        .app
        .timeline
        .iter()
        .find(|l| l.entry.kind.label() == "verify")
        .unwrap();
    assert!(
        verify.entry.text.contains("nothing to verify"),
        "{}",
        verify.entry.text
    );
    assert_eq!(h.app.incident.as_ref().unwrap().status, Status::Detected);
}

#[test]
fn ctrl_c_quits_from_a_popup() {
    let mut h = Harness::new("prompt-regression");
    h.press(Key::Char('?'));
    h.press(Key::Ctrl('c'));
    assert!(h.app.should_quit);
}

#[test]
fn help_and_focus_keys_move_through_the_panes() {
    let mut h = Harness::new("prompt-regression");
    h.press(Key::Char('?'));
    assert_eq!(h.app.overlay, Some(Overlay::Help));
    h.press(Key::Esc);
    assert_eq!(h.app.overlay, None);
    let start = h.app.focus;
    for _ in 0..4 {
        h.press(Key::Tab);
    }
    assert_eq!(h.app.focus, start, "Tab cycles through four panes");
    h.press(Key::Char('q'));
    assert!(h.app.should_quit);
}

/// A Prometheus query over its limit keeps the infrastructure step open even when the calls the
/// cockpit sees look healthy (retries hide 429s from the app); one under its limit is quoted.
#[test]
fn infrastructure_queries_are_evidence_in_the_first_step() {
    use flightdeck::engine::triage::{Category, Verdict};
    use flightdeck::model::InfraReading;

    let reading = |value: f64, at| InfraReading {
        name: "gateway 429 rate".into(),
        query: "sum(rate(gateway_requests_total{code=\"429\"}[5m]))".into(),
        unit: Some("%".into()),
        value: Some(value),
        at,
        range: Vec::new(),
        warn_above: Some(0.05),
        series: 1,
        error: None,
        warnings: Vec::new(),
    };
    let mut h = Harness::new("prompt-regression");
    h.run_past_change(10);
    let infra = |h: &Harness| {
        let step = h.triage().unwrap().step(Category::Infrastructure).clone();
        (step.verdict, step.evidence.join(" | "))
    };
    assert_eq!(infra(&h).0, Verdict::RuledOut);

    h.dispatch(Action::Infra(vec![reading(0.01, h.now())]));
    h.run_minutes(1);
    let (verdict, evidence) = infra(&h);
    assert_eq!(verdict, Verdict::RuledOut);
    assert!(
        evidence.contains("1 infrastructure queries under their limits"),
        "{evidence}"
    );

    h.dispatch(Action::Infra(vec![reading(0.12, h.now())]));
    h.run_minutes(1);
    let (verdict, evidence) = infra(&h);
    assert_eq!(verdict, Verdict::Suspect);
    assert!(
        evidence.contains("over limit: gateway 429 rate 12.0% > 5.0%"),
        "{evidence}"
    );

    // A reading from long ago says nothing about now.
    h.run_minutes(10);
    assert_eq!(infra(&h).0, Verdict::RuledOut);
}

/// Past the engine's cap a sample of the calls is judged: the header says so, and throughput
/// still counts every call.
#[test]
fn heavy_traffic_is_sampled_and_the_header_says_so() {
    use flightdeck::model::Call;

    let mut h = Harness::new("prompt-regression");
    h.run_minutes(2);
    let template: Call = serde_json::from_value(serde_json::json!({
        "ts": "2026-03-14T13:42:00Z", "feature": "support-answer",
        "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900
    }))
    .unwrap();
    let start = h.now();
    for minute in 0..3 {
        let calls: Vec<Call> = (0..12_000)
            .map(|i| Call {
                ts: start
                    + chrono::Duration::minutes(minute)
                    + chrono::Duration::milliseconds(i * 5),
                ..template.clone()
            })
            .collect();
        // The minute's end: the cockpit evaluates on the half minutes of the stream's clock.
        let now = start + chrono::Duration::minutes(minute + 1);
        h.dispatch(Action::Observed {
            now,
            wall: now,
            calls,
            changes: vec![],
        });
    }
    assert_eq!(h.app.engine.sampling_stride(), 4);
    let frame = h.render(160, 45);
    assert!(frame.contains("content: random 1 in 4"), "{frame}");
    let throughput = h
        .app
        .assessment
        .as_ref()
        .unwrap()
        .metrics
        .iter()
        .find(|m| m.id == MetricId::Throughput)
        .unwrap()
        .now
        .unwrap();
    assert!(
        (throughput - 12_000.0 * 3.0 / 5.0).abs() < 600.0,
        "throughput {throughput}/min"
    );
}

/// One call dated a year ahead must not push the windows and the retention past the rest of
/// the traffic: it is refused, counted and said.
#[test]
fn a_call_dated_ahead_of_the_clock_is_refused_and_the_history_stays() {
    use flightdeck::model::Call;

    let mut h = Harness::new("prompt-regression");
    h.run_minutes(30);
    let before = h.app.assessment.as_ref().unwrap().baseline;
    let now = h.now();
    let typo: Call = serde_json::from_value(serde_json::json!({
        "ts": "2206-03-14T14:10:00Z", "feature": "support-answer", "request_id": "typo",
        "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900
    }))
    .unwrap();
    h.dispatch(Action::Observed {
        now,
        wall: now,
        calls: vec![typo],
        changes: vec![],
    });
    assert_eq!(h.app.calls_refused_as_future, 1);
    let message = &h.app.message.as_ref().unwrap().1;
    assert!(message.contains("typo at 2206-03-14"), "{message}");
    h.run_minutes(1);
    assert_eq!(
        h.app.assessment.as_ref().unwrap().baseline.map(|b| b.from),
        before.map(|b| b.from)
    );
}

/// An exporter that re-sends a batch must not count its calls twice: the header's count and the
/// rates stay as they were, and the message says how many were counted once.
#[test]
fn a_re_sent_batch_is_counted_once_and_said() {
    use flightdeck::model::Call;

    let mut h = Harness::new("prompt-regression");
    h.run_minutes(30);
    let now = h.now();
    let batch: Vec<Call> = (0..4)
        .map(|n| {
            serde_json::from_value(serde_json::json!({
                "ts": now.to_rfc3339(), "feature": "support-answer",
                "request_id": format!("retried-{n}"), "model_requested": "gpt-4o",
                "status": "error", "latency_ms": 900
            }))
            .unwrap()
        })
        .collect();
    let send = |h: &mut Harness| {
        h.dispatch(Action::Observed {
            now,
            wall: now,
            calls: batch.clone(),
            changes: vec![],
        })
    };
    send(&mut h);
    let seen = h.app.calls_seen;
    send(&mut h);
    assert_eq!(h.app.calls_seen, seen);
    assert_eq!(h.app.engine.repeated_calls(), 4);
    let message = &h.app.message.as_ref().unwrap().1;
    assert!(message.starts_with("4 repeats counted once"), "{message}");
}
