//! What an incident records beside its timeline, and the record's edits: minute samples from
//! before the onset to after resolution, failing calls of the metrics that alarmed, the impact
//! start the engine estimates.

mod support;

use flightdeck::app::editing::{Editor, RecordField};
use flightdeck::app::keymap::Key;
use flightdeck::app::{Action, Overlay};
use flightdeck::incident::store;
use flightdeck::model::{
    Category, EntryKind, FailingCall, Incident, MinuteSample, NamedTime, Role, TimelineEntry, Zone,
};
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
    let baseline_at = |i: usize| samples.items[i].metrics["hallucination_rate"].baseline;
    assert_eq!(
        baseline_at(0),
        None,
        "no baseline before the first was ready"
    );
    assert!(baseline_at(samples.items.len() - 1).is_some());
    assert!(
        samples.items.iter().all(|s| s.stride == 1),
        "the demo is not sampled"
    );

    let examples =
        store::load_lines::<FailingCall>(h.data_dir(), id, store::EXAMPLES_FILE).unwrap();
    assert!(!examples.items.is_empty() && examples.items.len() <= 20);
    assert!(examples.items.iter().all(|e| !e.failed.is_empty()));
    let times: Vec<_> = examples.items.iter().map(|e| e.ts).collect();
    assert!(
        times
            .windows(2)
            .all(|w| w[1] - w[0] >= chrono::Duration::seconds(30)),
        "the examples spread over the incident: {times:?}"
    );
    let rolled_back = h
        .app
        .timeline
        .iter()
        .find(|l| l.entry.kind.label() == "applied")
        .map(|l| l.entry.ts)
        .unwrap();
    assert!(
        times.iter().all(|t| *t < rolled_back),
        "no example after the rollback took: {times:?}"
    );

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

fn record_row(h: &mut Harness, field: RecordField) {
    h.press(Key::Char('e'));
    let at = RecordField::ALL.iter().position(|f| *f == field).unwrap();
    for _ in 0..at {
        h.press(Key::Down);
    }
    h.press(Key::Enter);
}

fn editor(h: &Harness) -> Editor {
    match &h.app.overlay {
        Some(Overlay::Editor(editor)) => editor.clone(),
        other => panic!("no editor open: {other:?}"),
    }
}

fn last(h: &Harness) -> TimelineEntry {
    h.app.timeline.last().unwrap().entry.clone()
}

#[test]
fn the_record_dialog_sets_cause_roles_title_summary_and_times_each_logged() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(45, |app| app.incident.is_some()));
    h.run_minutes(3);

    record_row(&mut h, RecordField::RootCause);
    assert_eq!(
        editor(&h).initial,
        "prompt",
        "prefilled with the triage's conclusion"
    );
    h.dispatch(Action::TextSubmitted("weather".into()));
    let refused = editor(&h).error.expect("an unknown category is refused");
    assert!(
        refused.contains("model, prompt, data or infrastructure"),
        "{refused}"
    );
    h.dispatch(Action::TextSubmitted("Prompt".into()));
    assert_eq!(
        last(&h).kind,
        EntryKind::RootCauseSet {
            from: None,
            to: Category::Prompt
        }
    );
    assert!(matches!(
        h.app.overlay,
        Some(Overlay::Record { selected: 2 })
    ));
    h.press(Key::Esc);

    record_row(&mut h, RecordField::Role(Role::Communications));
    assert_eq!(editor(&h).initial, "oncall");
    h.dispatch(Action::TextSubmitted("sam".into()));
    assert_eq!(last(&h).text, "sam is communications");
    h.press(Key::Esc);

    record_row(&mut h, RecordField::Title);
    h.dispatch(Action::TextSubmitted(
        "Support answers invent policies".into(),
    ));
    h.press(Key::Esc);
    record_row(&mut h, RecordField::Summary);
    h.dispatch(Action::TextSubmitted(
        "v8 dropped the grounding rule.\nRolled back.".into(),
    ));
    h.press(Key::Esc);

    let estimated = h.app.incident.as_ref().unwrap().impact_start.unwrap();
    record_row(&mut h, RecordField::Time(NamedTime::ImpactStart));
    assert_eq!(editor(&h).initial, Zone::utc().editable(estimated));
    h.dispatch(Action::TextSubmitted("23:59".into()));
    assert!(editor(&h).error.unwrap().contains("in the future"));
    h.dispatch(Action::TextSubmitted("14:15".into()));
    let set = last(&h);
    assert_eq!(set.actor, "oncall");
    assert_eq!(
        set.kind,
        EntryKind::TimeSet {
            time: NamedTime::ImpactStart,
            from: Some(estimated),
            to: "2026-03-14T14:15:00Z".parse().unwrap(),
        }
    );
    h.press(Key::Esc);
    record_row(&mut h, RecordField::Time(NamedTime::Detected));
    h.dispatch(Action::TextSubmitted("14:10".into()));
    let refused = editor(&h)
        .error
        .expect("detection before the impact start is refused");
    assert!(
        refused.contains("would be before impact start"),
        "{refused}"
    );
    h.press(Key::Esc);
    h.press(Key::Esc);
    let entries = h.app.timeline.len();
    h.run_minutes(5);
    assert!(
        h.app.timeline[entries..]
            .iter()
            .all(|l| !matches!(l.entry.kind, EntryKind::TimeSet { .. })),
        "the estimate no longer moves a time set by hand"
    );

    let incident = h.app.incident.clone().unwrap();
    assert_eq!(incident.root_cause, Some(Category::Prompt));
    assert_eq!(incident.title, "Support answers invent policies");
    assert_eq!(
        incident.summary,
        "v8 dropped the grounding rule.\nRolled back."
    );
    assert_eq!(incident.roles[&Role::Communications].person, "sam");
    assert_eq!(
        incident.time_to_detect(),
        Some(chrono::Duration::minutes(2)),
        "detected 14:17, impact from 14:15"
    );
    let folded =
        Incident::from_timeline(&store::load(h.data_dir(), &incident.id).unwrap().entries).unwrap();
    assert_eq!(
        folded, incident,
        "the record on disk folds back to the same incident"
    );

    h.press(Key::Char('e'));
    let frame = h.render(100, 30);
    assert!(frame.contains("Prompt"), "{frame}");
    assert!(frame.contains("sam since 2026-03-14"), "{frame}");
    insta::assert_snapshot!(frame);
}

#[test]
fn an_entry_is_corrected_with_its_history_kept_and_the_timeline_filters_by_text() {
    let mut h = Harness::new("prompt-regression");
    h.declare("Answers invent refunds");
    h.note("paged the prompt ownr");
    for _ in 0..3 {
        h.press(Key::Tab);
    }
    h.press(Key::Enter);
    assert_eq!(h.app.overlay, Some(Overlay::Entry(4)));
    h.press(Key::Char('e'));
    assert_eq!(editor(&h).initial, "paged the prompt ownr");
    h.dispatch(Action::TextSubmitted(
        "paged the prompt owner (dana)".into(),
    ));
    let edit = last(&h);
    assert_eq!(
        edit.kind,
        EntryKind::EntryEdited {
            seq: 4,
            from: "paged the prompt ownr".into(),
            to: "paged the prompt owner (dana)".into()
        }
    );
    assert_eq!(
        h.app.timeline[3].entry.text, "paged the prompt ownr",
        "never rewritten"
    );
    assert_eq!(h.app.overlay, Some(Overlay::Entry(4)), "back to the entry");
    h.press(Key::Esc);
    let frame = h.render(160, 45);
    assert!(
        frame.contains("paged the prompt owner (dana) (edited)"),
        "{frame}"
    );

    h.press(Key::Char('/'));
    h.dispatch(Action::FilterTyped("OWNER".into()));
    let shown: Vec<u64> = h
        .app
        .visible_entries()
        .iter()
        .map(|l| l.entry.seq)
        .collect();
    assert_eq!(
        shown,
        [5, 4],
        "the edit and the corrected note, newest first"
    );
    h.dispatch(Action::TextSubmitted("OWNER".into()));
    assert!(h.app.overlay.is_none());
    assert!(h.render(160, 45).contains("/OWNER"));
    h.press(Key::Char('/'));
    h.press(Key::Esc);
    assert!(
        h.app.timeline_query.is_empty(),
        "Esc in the filter clears it"
    );
    assert_eq!(h.app.visible_entries().len(), h.app.timeline.len());

    h.press(Key::Down);
    h.press(Key::Enter);
    assert_eq!(h.app.overlay, Some(Overlay::Entry(4)));
    let frame = h.render(160, 45);
    assert!(
        frame.contains("history (what it said before each edit)"),
        "{frame}"
    );
    assert!(
        frame.contains("by oncall: paged the prompt ownr"),
        "{frame}"
    );
}

#[test]
fn z_shows_every_time_in_the_local_zone_and_back() {
    let mut h = Harness::new("prompt-regression");
    h.app.settings.local_offset = chrono::FixedOffset::east_opt(3600).unwrap();
    assert!(h.run_until(45, |app| app.incident.is_some()));
    assert!(h.render(160, 45).contains("2026-03-14 14:17:00 UTC"));
    h.press(Key::Char('z'));
    let frame = h.render(160, 45);
    assert!(frame.contains("2026-03-14 15:17:00 UTC+01:00"), "{frame}");
    assert!(
        frame.contains("2026-03-14 UTC+01:00"),
        "the timeline names the zone: {frame}"
    );
    assert!(frame.contains("15:17:00"), "{frame}");
    h.press(Key::Char('z'));
    assert!(h.render(160, 45).contains("2026-03-14 UTC"));
}

#[test]
fn a_resumed_incident_records_its_minutes_after_the_last_one_on_disk() {
    let mut first = Harness::new("prompt-regression");
    assert!(first.run_until(45, |app| app.incident.is_some()));
    first.run_minutes(4);
    let id = first.app.incident.as_ref().unwrap().id.clone();
    let before = store::load_lines::<MinuteSample>(first.data_dir(), &id, store::SAMPLES_FILE)
        .unwrap()
        .items;
    let last_before = before.last().unwrap().minute;

    let mut second = Harness::resuming(
        "prompt-regression",
        flightdeck::commands::resumed(first.data_dir(), &id).unwrap(),
    );
    second.run_minutes((first.now() - second.now()).num_minutes() + 5);
    let after = store::load_lines::<MinuteSample>(second.data_dir(), &id, store::SAMPLES_FILE)
        .unwrap()
        .items;
    assert!(!after.is_empty(), "the resumed run goes on recording");
    assert_eq!(
        after[0].minute,
        last_before + chrono::Duration::minutes(1),
        "no minute twice, none skipped"
    );
}
