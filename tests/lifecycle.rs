//! The incident's lifecycle and severity, driven by keys: transitions only go forward, each is
//! logged, and the record on disk folds back to the same incident.

mod support;

use flightdeck::app::keymap::Key;
use flightdeck::incident::store;
use flightdeck::model::{Incident, Severity, Status};
use support::Harness;

fn status(h: &Harness) -> Status {
    h.app.incident.as_ref().unwrap().status
}

fn severity(h: &Harness) -> Severity {
    h.app.incident.as_ref().unwrap().severity
}

fn message(h: &Harness) -> String {
    h.app.message.clone().map(|(_, m)| m).unwrap_or_default()
}

#[test]
fn the_lifecycle_moves_forward_one_logged_step_at_a_time() {
    let mut h = Harness::new("prompt-regression");
    h.declare("Declared by oncall");
    assert_eq!(status(&h), Status::Detected);
    assert_eq!(severity(&h), Severity::Sev3);

    h.press(Key::Char('a'));
    h.press(Key::Char('i'));
    assert_eq!(status(&h), Status::Identified);
    h.press(Key::Char('a'));
    assert_eq!(status(&h), Status::Identified, "no going back");
    assert_eq!(message(&h), "the incident is already IDENTIFIED");

    h.press(Key::Char('+'));
    h.press(Key::Char('+'));
    assert_eq!(severity(&h), Severity::Sev1);
    h.press(Key::Char('+'));
    assert_eq!(severity(&h), Severity::Sev1);
    assert_eq!(message(&h), "the incident is already SEV1");
    h.press(Key::Char('-'));
    assert_eq!(severity(&h), Severity::Sev2);

    h.press(Key::Char('m'));
    h.press(Key::Char('x'));
    let incident = h.app.incident.clone().unwrap();
    assert_eq!(incident.status, Status::Resolved);
    assert!(incident.mitigated_at.is_some() && incident.resolved_at.is_some());

    let texts: Vec<String> = h
        .app
        .timeline
        .iter()
        .skip(1)
        .map(|l| format!("{} {}", l.entry.kind.label(), l.entry.text))
        .collect();
    assert_eq!(
        texts,
        [
            "role oncall is incident commander",
            "time impact start 2026-03-14 13:40:00 UTC: the declaration, until an alarm's evidence dates it earlier",
            "status status DETECTED → INVESTIGATING",
            "status status INVESTIGATING → IDENTIFIED",
            "severity severity SEV3 → SEV2",
            "severity severity SEV2 → SEV1",
            "severity severity SEV1 → SEV2",
            "status status IDENTIFIED → MITIGATED",
            "status status MITIGATED → RESOLVED",
        ]
    );
    let on_disk = store::load(h.data_dir(), &incident.id).unwrap();
    assert_eq!(Incident::from_timeline(&on_disk.entries), Some(incident));
}

#[test]
fn without_an_incident_the_keys_say_so_and_log_nothing() {
    let mut h = Harness::new("prompt-regression");
    for key in ['i', 'm', '+'] {
        h.press(Key::Char(key));
        assert_eq!(message(&h), "no incident open", "{key}");
    }
    assert!(h.app.timeline.is_empty());
}

#[test]
fn a_starred_entry_is_marked_logged_and_shown_by_the_starred_filter() {
    use flightdeck::app::timeline_view::{self, TimelineFilter};
    use flightdeck::model::EntryKind;

    let mut h = Harness::new("prompt-regression");
    h.declare("Declared by oncall");
    h.press(Key::Char('a'));
    h.press(Key::Char('*'));
    assert_eq!(
        message(&h),
        "focus the timeline (Tab) and select the entry to star"
    );
    for _ in 0..3 {
        h.press(Key::Tab);
    }
    // Newest first: status, impact start, role, then the opening entry.
    for _ in 0..3 {
        h.press(Key::Down);
    }
    h.press(Key::Char('*'));
    let star = h.app.timeline.last().unwrap().entry.clone();
    assert_eq!(
        star.kind,
        EntryKind::Starred {
            seq: 1,
            starred: true
        }
    );
    assert_eq!(star.actor, "oncall");
    assert!(
        star.text.starts_with(
            "starred entry 1 for the postmortem (opened: SEV3 opened: Declared by oncall"
        ),
        "{}",
        star.text
    );
    assert!(h.render(120, 35).contains("★ SEV3 opened"));

    h.press(Key::Char('f'));
    assert_eq!(h.app.timeline_filter, TimelineFilter::Starred);
    let shown: Vec<u64> = h
        .app
        .visible_entries()
        .iter()
        .map(|l| l.entry.seq)
        .collect();
    assert_eq!(shown, [1]);
    assert!(h.render(120, 35).contains("showing starred (f)"));

    h.press(Key::Char('*'));
    assert!(timeline_view::starred(&h.app.timeline).is_empty());
    assert!(h.render(120, 35).contains("no starred entries yet"));
}
