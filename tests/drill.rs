//! Drills driven through actions: on each built-in scenario the responder waits for the
//! incident, names the cause, applies the fix and resolves; the scorecard must say exactly that,
//! with the triage at each point, and nothing on screen may name the scenario before it.

mod support;

use chrono::{DateTime, Utc};
use flightdeck::app::editing::RecordField;
use flightdeck::app::keymap::Key;
use flightdeck::app::{Action, Overlay};
use flightdeck::drill::{Scorecard, TriageSaid};
use flightdeck::engine::triage::Verdict;
use flightdeck::incident::store;
use flightdeck::model::{Category, EntryKind, MitigationKind, Status};
use flightdeck::sim::scenario::Scenario;
use support::Harness;

/// `e`, down to the root cause, `Enter`: its editor open.
fn edit_root_cause(h: &mut Harness) {
    h.press(Key::Char('e'));
    let row = RecordField::ALL
        .iter()
        .position(|f| *f == RecordField::RootCause)
        .unwrap();
    for _ in 0..row {
        h.press(Key::Down);
    }
    h.press(Key::Enter);
}

fn set_root_cause(h: &mut Harness, category: Category) {
    edit_root_cause(h);
    h.dispatch(Action::TextSubmitted(category.key().into()));
    h.press(Key::Esc);
    assert_eq!(h.app.overlay, None);
}

fn key_for(kind: MitigationKind) -> char {
    match kind {
        MitigationKind::PromptRollback => 'r',
        MitigationKind::ModelPin => 'p',
        MitigationKind::KillSwitch => 'k',
    }
}

/// What the triage on screen says, as the timeline logged it: each decided verdict.
fn triage_now(h: &Harness) -> TriageSaid {
    let triage = h
        .app
        .triage
        .clone()
        .expect("a triage logged for the incident");
    TriageSaid {
        verdicts: Category::ORDER
            .into_iter()
            .map(|c| (c, triage.step(c).verdict))
            .filter(|(_, v)| *v != Verdict::InsufficientData)
            .map(|(c, v)| (c, v.to_string()))
            .collect(),
    }
}

fn wait_for_incident(h: &mut Harness) -> DateTime<Utc> {
    assert!(
        h.run_until(240, |app| app.incident.is_some()),
        "no incident"
    );
    h.app.incident.as_ref().unwrap().detected_at.unwrap()
}

fn scorecard(h: &Harness) -> Scorecard {
    assert_eq!(h.app.overlay, Some(Overlay::Scorecard));
    h.app.scorecard.clone().expect("the drill's scorecard")
}

#[test]
fn a_drill_on_each_scenario_played_right_scores_the_times_and_no_wrong_calls() {
    for name in Scenario::builtin_names() {
        let mut h = Harness::drill(name);
        let truth = h.scenario().category.unwrap();
        let started = h.scenario().start + chrono::Duration::seconds(30);
        let detected = wait_for_incident(&mut h);
        h.run_minutes(6);

        set_root_cause(&mut h, truth);
        let named_at = h.now();
        let triage_when_named = triage_now(&h);
        h.run_minutes(1);
        h.apply_mitigation(key_for(truth.first_mitigation()));
        let fixed_at = h.now();
        let triage_when_fixed = triage_now(&h);
        assert!(
            h.run_until(20, |app| app
                .incident
                .as_ref()
                .is_some_and(|i| i.status == Status::Mitigated)),
            "{name}: the right mitigation did not mitigate"
        );
        h.run_minutes(3);
        let resolved_at = h.now();
        h.press(Key::Char('x'));

        let card = scorecard(&h);
        assert_eq!(card.scenario, name);
        assert_eq!(card.truth, truth);
        assert_eq!(card.started_at, started, "{name}");
        assert_eq!(card.detected_at, Some(detected));
        let named = card.correct_category.as_ref().expect("the category named");
        assert_eq!(named.what, truth.key());
        assert_eq!(named.at, named_at);
        assert_eq!(named.after_start_s, (named_at - started).num_seconds());
        assert_eq!(
            named.after_detection_s,
            Some((named_at - detected).num_seconds())
        );
        assert_eq!(named.triage, triage_when_named, "{name}");
        let fixed = card
            .right_mitigation_applied
            .as_ref()
            .expect("the fix applied");
        assert_eq!(fixed.what, truth.first_mitigation().to_string());
        assert_eq!(fixed.at, fixed_at);
        assert_eq!(fixed.triage, triage_when_fixed, "{name}");
        assert_eq!(
            fixed.triage.likely(),
            Some(truth),
            "{name}: the triage had found it by then"
        );
        assert!(card.wrong_categories.is_empty(), "{name}");
        assert!(card.wrong_mitigations.is_empty(), "{name}");
        assert_eq!(card.resolved_at, Some(resolved_at));

        // The record carries it: a note by flightdeck, and scorecard.json beside the timeline.
        let note = &h.app.timeline.last().unwrap().entry;
        assert_eq!(note.kind, EntryKind::Note);
        assert_eq!(note.actor, "flightdeck");
        assert_eq!(note.text, card.lines().join("\n"));
        let id = &h.app.incident.as_ref().unwrap().id;
        let written: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                store::incident_dir(h.data_dir(), id).join(store::SCORECARD_FILE),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(written, serde_json::to_value(&card).unwrap());
        let recorded = store::load(h.data_dir(), id).unwrap().entries;
        assert!(
            matches!(&recorded[0].kind, EntryKind::Opened { drill: Some(d), .. } if d == name),
            "recorded as a drill"
        );
    }
}

#[test]
fn the_red_herring_trap_taken_first_is_counted() {
    let mut h = Harness::drill("red-herring");
    let detected = wait_for_incident(&mut h);
    h.run_minutes(4);
    set_root_cause(&mut h, Category::Prompt);
    let wrong_call_at = h.now();
    h.apply_mitigation('r');
    let wrong_fix_at = h.now();
    let triage_then = triage_now(&h);
    h.run_minutes(5);
    set_root_cause(&mut h, Category::Model);
    h.run_minutes(1);
    h.apply_mitigation('p');
    let fixed_at = h.now();
    h.run_minutes(5);
    h.press(Key::Char('q'));
    assert!(
        !h.app.should_quit,
        "quitting a drill shows the scorecard first"
    );

    let card = scorecard(&h);
    assert_eq!(card.wrong_categories.len(), 1);
    assert_eq!(card.wrong_categories[0].what, "prompt");
    assert_eq!(card.wrong_categories[0].at, wrong_call_at);
    assert_eq!(card.wrong_mitigations.len(), 1);
    let wrong = &card.wrong_mitigations[0];
    assert_eq!(
        (wrong.what.as_str(), wrong.at),
        ("prompt rollback", wrong_fix_at)
    );
    assert_eq!(
        wrong.after_detection_s,
        Some((wrong_fix_at - detected).num_seconds())
    );
    assert_eq!(wrong.triage, triage_then);
    assert_eq!(card.correct_category.as_ref().unwrap().what, "model");
    assert_eq!(card.right_mitigation_applied.as_ref().unwrap().at, fixed_at);
    assert_eq!(card.resolved_at, None);
    let lines = card.lines().join("\n");
    assert!(
        lines.contains("Wrong calls: 1 root cause, 1 mitigation"),
        "{lines}"
    );
    assert!(lines.contains("Not resolved"), "{lines}");

    h.press(Key::Char('q'));
    assert!(h.app.should_quit, "q on the scorecard ends the drill");
}

#[test]
fn a_closed_scorecard_lets_the_drill_play_on_and_the_next_quit_ends_it() {
    let mut h = Harness::drill("input-drift");
    wait_for_incident(&mut h);
    h.press(Key::Char('q'));
    let entries = h.app.timeline.len();
    h.press(Key::Esc);
    assert_eq!(h.app.overlay, None);
    h.run_minutes(2);
    h.press(Key::Char('q'));
    assert!(h.app.should_quit);
    let notes = h.app.timeline[entries - 1..]
        .iter()
        .filter(|l| l.entry.actor == "flightdeck" && l.entry.kind == EntryKind::Note)
        .count();
    assert_eq!(notes, 1, "the scorecard is logged once");
}

#[test]
fn a_signal_ends_a_drill_at_once_with_its_scorecard_recorded() {
    let mut h = Harness::drill("provider-degradation");
    wait_for_incident(&mut h);
    h.dispatch(Action::Terminate);
    assert!(h.app.should_quit);
    assert!(h.app.scorecard.is_some());
    let id = &h.app.incident.as_ref().unwrap().id;
    assert!(
        store::incident_dir(h.data_dir(), id)
            .join(store::SCORECARD_FILE)
            .exists()
    );
}

#[test]
fn the_triage_shows_its_evidence_but_withholds_its_verdict_until_a_root_cause_is_committed() {
    let mut h = Harness::drill("prompt-regression");
    wait_for_incident(&mut h);
    h.run_minutes(3);
    let frame = h.render(160, 45);
    assert!(
        frame.contains("verdict withheld until you commit"),
        "{frame}"
    );
    assert!(frame.contains("? withheld"), "{frame}");
    for verdict in ["LIKELY", "ruled out", "◀ suggested", "→ PROMPT"] {
        assert!(
            !frame.contains(verdict),
            "{verdict} shown before the commitment:\n{frame}"
        );
    }
    assert!(frame.contains("v8"), "the evidence shows: {frame}");
    edit_root_cause(&mut h);
    assert!(
        matches!(&h.app.overlay, Some(Overlay::Editor(e)) if e.initial.is_empty()),
        "the root cause editor does not suggest the answer"
    );
    h.press(Key::Esc);
    h.press(Key::Esc);
    h.app.presenting = true;
    let frame = h.render(160, 45);
    assert!(
        !frame.contains("LIKELY") && !frame.contains("ruled out"),
        "{frame}"
    );
    h.app.presenting = false;

    set_root_cause(&mut h, Category::Data);
    let frame = h.render(160, 45);
    assert!(
        frame.contains("LIKELY") && frame.contains("→ PROMPT"),
        "{frame}"
    );
}

#[test]
fn nothing_on_screen_names_the_scenario_before_the_scorecard() {
    for name in Scenario::builtin_names() {
        let mut h = Harness::drill(name);
        let summary = h.scenario().summary.clone();
        let check = |h: &mut Harness, when: &str| {
            for (w, h_) in [(100, 30), (160, 45)] {
                for presenting in [false, true] {
                    h.app.presenting = presenting;
                    let frame = h.render(w, h_);
                    assert!(
                        !frame.to_lowercase().contains(name),
                        "{name} named {when} at {w}x{h_}:\n{frame}"
                    );
                    assert!(!frame.contains(&summary[..30]), "{name} described {when}");
                }
                h.app.presenting = false;
            }
        };
        check(&mut h, "at the start");
        wait_for_incident(&mut h);
        check(&mut h, "at detection");
        h.run_minutes(8);
        check(&mut h, "during triage");
        h.press(Key::Char('?'));
        check(&mut h, "in help");
        h.press(Key::Esc);
        h.press(Key::Char('e'));
        check(&mut h, "in the record");
        h.press(Key::Esc);
        h.press(Key::Char('x'));
        let frame = h.render(160, 45);
        assert!(frame.contains(name), "the scorecard reveals it:\n{frame}");
    }
}

#[test]
fn the_scorecard_overlay() {
    let mut h = Harness::drill("red-herring");
    wait_for_incident(&mut h);
    h.run_minutes(4);
    set_root_cause(&mut h, Category::Prompt);
    h.apply_mitigation('r');
    h.run_minutes(6);
    set_root_cause(&mut h, Category::Model);
    h.apply_mitigation('p');
    h.run_until(20, |app| {
        app.incident
            .as_ref()
            .is_some_and(|i| i.status == Status::Mitigated)
    });
    h.run_minutes(2);
    h.press(Key::Char('x'));
    assert_eq!(h.app.overlay, Some(Overlay::Scorecard));
    insta::assert_snapshot!("scorecard_100x30", h.render(100, 30));
    insta::assert_snapshot!("scorecard_160x45", h.render(160, 45));
}

#[test]
fn an_unknown_drill_scenario_exits_2_naming_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["drill", "--scenario", "no-such-thing"])
        .env("FLIGHTDECK_DATA_DIR", dir.path())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in Scenario::builtin_names() {
        assert!(stderr.contains(name), "{stderr}");
    }
    assert!(stderr.contains("random"), "{stderr}");
}

#[test]
fn a_drill_refuses_dry_run_and_read_only_which_would_leave_nothing_to_score() {
    for flag in ["--dry-run", "--read-only"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["drill", "--scenario", "prompt-regression", flag])
            .env("FLIGHTDECK_DATA_DIR", tempfile::tempdir().unwrap().path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("nothing to score"), "{flag}: {stderr}");
    }
}

#[test]
fn a_drills_postmortem_says_it_was_a_game_day() {
    use flightdeck::incident::postmortem::{Options, Postmortem, load, markdown};
    let mut h = Harness::drill("prompt-regression");
    h.handle_prompt_incident();
    let id = h.app.incident.as_ref().unwrap().id.clone();
    let record = load::load(h.data_dir(), &id).unwrap();
    let md = markdown::render(&Postmortem::build(&record, &Options::default()));
    assert!(
        md.contains(
            "| drill | a game day on the scenario prompt-regression, not a production incident |"
        ),
        "{md}"
    );
}
