//! Mitigations driven through actions: the stages a backend reports, the version picker, the
//! typed confirmation for production, `--dry-run`, and undo.

mod support;

use chrono::{DateTime, Utc};
use flightdeck::app::keymap::Key;
use flightdeck::app::{Action, App, Effect, Overlay, Settings};
use flightdeck::engine::{Engine, EngineConfig};
use flightdeck::model::{
    EntryKind, MitigationKind, MitigationPlan, MitigationStage, Outcome, PlanChoice, Status,
};
use flightdeck::sim::schema_registry;
use support::Harness;

fn at() -> DateTime<Utc> {
    "2026-11-29T14:00:00Z".parse().unwrap()
}

fn app(dry_run: bool) -> App {
    let settings = Settings {
        actor: "oncall".into(),
        source: "live".into(),
        read_only: false,
        dry_run,
        speed: None,
        present: false,
        local_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
        drill: None,
    };
    let mut app = App::new(
        settings,
        Engine::new(EngineConfig::default(), schema_registry()),
        at(),
    );
    app.update(Action::observed_live(at(), Vec::new(), Vec::new()));
    app
}

fn kill_switch(production: bool) -> MitigationPlan {
    MitigationPlan {
        target: "flag support-ai in production".into(),
        operation:
            "POST /api/admin/projects/default/features/support-ai/environments/production/off"
                .into(),
        from: "on (AI serving)".into(),
        to: "off (fallback)".into(),
        from_id: "on".into(),
        to_id: "off".into(),
        confirm_name: production.then(|| "support-ai".into()),
        ..MitigationPlan::new(MitigationKind::KillSwitch, "unleash")
    }
}

fn rollback() -> MitigationPlan {
    let version = |label: &str, id: &str, text: &str| PlanChoice {
        label: label.into(),
        id: id.into(),
        created_at: Some(at()),
        text: Some(text.into()),
        operation: format!("POST /v1/prompt_versions/{id}/tags"),
    };
    MitigationPlan {
        target: "prompt support-answer, tag production".into(),
        operation: "POST /v1/prompt_versions/B/tags".into(),
        from: "v3".into(),
        to: "v2".into(),
        from_id: "C".into(),
        to_id: "B".into(),
        from_text: Some("Answer briefly.".into()),
        choices: vec![
            version("v2", "B", "Answer only from the articles."),
            version("v1", "A", "Answer."),
        ],
        ..MitigationPlan::new(MitigationKind::PromptRollback, "phoenix")
    }
}

fn press(app: &mut App, keys: &[Key]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|key| app.update(Action::Key(*key)))
        .collect()
}

fn typed(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
}

fn applied(effects: &[Effect]) -> Option<&MitigationPlan> {
    effects.iter().find_map(|e| match e {
        Effect::ApplyMitigation { plan, .. } => Some(plan.as_ref()),
        _ => None,
    })
}

fn labels(app: &App) -> Vec<&'static str> {
    app.timeline.iter().map(|l| l.entry.kind.label()).collect()
}

fn last_text(app: &App) -> String {
    app.timeline.last().unwrap().entry.text.clone()
}

#[test]
fn a_production_target_is_applied_only_once_its_name_is_typed() {
    let mut app = app(false);
    app.update(Action::PlansRead(vec![kill_switch(true)]));
    press(&mut app, &[Key::Char('k'), Key::Right]);
    assert!(
        applied(&press(&mut app, &[Key::Enter])).is_none(),
        "nothing typed"
    );
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    let mut keys = typed("support-aqk");
    keys.extend([Key::Backspace, Key::Backspace, Key::Char('i')]);
    press(&mut app, &keys);
    // Keys that are bindings elsewhere ('k', 'q') are letters here.
    let Some(Overlay::Confirm { typed, .. }) = &app.overlay else {
        panic!("the dialog closed");
    };
    assert_eq!(typed, "support-ai");
    let plan = applied(&press(&mut app, &[Key::Enter]))
        .cloned()
        .expect("applied once typed");
    assert_eq!(plan, kill_switch(true));
    assert_eq!(labels(&app), ["opened", "role", "request", "confirm"]);
    assert!(
        last_text(&app)
            .contains("via unleash (POST /api/admin/projects/default/features/support-ai"),
        "{}",
        last_text(&app)
    );
}

#[test]
fn the_picker_aims_the_rollback_at_the_chosen_version() {
    let mut app = app(false);
    app.update(Action::PlansRead(vec![rollback()]));
    press(&mut app, &[Key::Char('r'), Key::Down, Key::Down]);
    let Some(Overlay::Confirm { plan, .. }) = &app.overlay else {
        panic!("no dialog");
    };
    assert_eq!(
        (plan.to.as_str(), plan.chosen()),
        ("v1", Some(1)),
        "stops at the last"
    );
    press(&mut app, &[Key::Up]);
    press(&mut app, &[Key::Down]);
    let plan = applied(&press(&mut app, &[Key::Right, Key::Enter]))
        .cloned()
        .unwrap();
    assert_eq!(plan.to_id, "A");
    assert_eq!(plan.operation, "POST /v1/prompt_versions/A/tags");
}

fn model_pin() -> MitigationPlan {
    MitigationPlan {
        target: "flag support-model in production".into(),
        operation: "PUT /api/admin/projects/default/features/support-model/environments/production/strategies/s1"
            .into(),
        from: "floating (no pin)".into(),
        to: "gpt-4o-2024-08-06".into(),
        from_id: "[]".into(),
        to_id: "[pinned]".into(),
        ..MitigationPlan::new(MitigationKind::ModelPin, "unleash")
    }
}

/// Confirms the plan of `key` and reports the given stages for it.
fn carry_out(app: &mut App, key: char, stages: Vec<MitigationStage>) {
    press(app, &[Key::Char(key), Key::Right, Key::Enter]);
    for stage in stages {
        app.update(Action::Mitigation(stage));
    }
}

fn applied_with_undo(plan: &MitigationPlan) -> MitigationStage {
    MitigationStage::Applied {
        answer: format!("{} → 200 OK", plan.operation),
        undo: Some(Box::new(MitigationPlan {
            undo: true,
            ..plan.clone()
        })),
    }
}

/// A live cockpit whose kill switch was applied and verified, with its undo on offer.
fn app_with_the_kill_switch_verified() -> App {
    let mut app = app(false);
    app.update(Action::PlansRead(vec![kill_switch(false)]));
    carry_out(
        &mut app,
        'k',
        vec![
            applied_with_undo(&kill_switch(false)),
            MitigationStage::Verified {
                read_back: "flag support-ai is off".into(),
            },
        ],
    );
    app
}

#[test]
fn each_stage_is_logged_and_undo_follows_the_last_write_even_when_its_read_back_failed() {
    let mut app = app(false);
    app.update(Action::PlansRead(vec![kill_switch(false), model_pin()]));
    let verified = MitigationStage::Verified {
        read_back: "flag support-ai is off".into(),
    };
    carry_out(
        &mut app,
        'k',
        vec![applied_with_undo(&kill_switch(false)), verified],
    );
    assert_eq!(
        app.undo.as_ref().map(|u| u.kind),
        Some(MitigationKind::KillSwitch)
    );

    // A write that never happened leaves the last one's undo in place.
    carry_out(
        &mut app,
        'p',
        vec![MitigationStage::Failed {
            reason: "Unleash 127.0.0.1:4242: connection refused".into(),
        }],
    );
    assert_eq!(
        app.undo.as_ref().map(|u| u.kind),
        Some(MitigationKind::KillSwitch)
    );

    press(&mut app, &[Key::Char('p'), Key::Right, Key::Enter]);
    app.update(Action::Mitigation(applied_with_undo(&model_pin())));
    assert!(app.in_flight.as_ref().is_some_and(|f| f.applied));
    assert!(
        press(&mut app, &[Key::Char('k')]).is_empty(),
        "one at a time"
    );
    app.update(Action::Mitigation(MitigationStage::Failed {
        reason: "applied, but the read-back failed: strategy s1 serves gpt-4o".into(),
    }));
    assert_eq!(app.in_flight, None);
    assert_eq!(
        app.undo.as_ref().map(|u| u.kind),
        Some(MitigationKind::ModelPin),
        "the pin was written: it is what u puts back"
    );
    assert_eq!(
        app.applied,
        [MitigationKind::KillSwitch],
        "the pin is not verified"
    );
    let labels = labels(&app);
    assert_eq!(
        labels[labels.len() - 4..],
        ["request", "confirm", "applied", "result"]
    );
    let EntryKind::ActionResult { outcome, .. } = &app.timeline.last().unwrap().entry.kind else {
        panic!("a result");
    };
    assert_eq!(*outcome, Outcome::Failed);
    assert!(last_text(&app).contains("strategy s1 serves gpt-4o"));
    let message = app.message.clone().unwrap().1;
    assert!(message.contains("model pin failed"), "{message}");
}

#[test]
fn a_new_incident_has_nothing_to_undo() {
    let mut app = app_with_the_kill_switch_verified();
    assert!(app.undo.is_some());
    press(&mut app, &[Key::Char('x'), Key::Char('d')]);
    app.update(Action::TextSubmitted("Answers invent refunds again".into()));
    assert!(
        app.incident
            .as_ref()
            .is_some_and(|i| i.status == Status::Detected)
    );
    assert_eq!(app.undo, None);
    assert!(press(&mut app, &[Key::Char('u')]).is_empty());
    assert!(app.overlay.is_none());
}

#[test]
fn a_dry_run_logs_what_would_be_sent_and_changes_nothing() {
    let mut app = app(true);
    app.update(Action::PlansRead(vec![kill_switch(false)]));
    press(&mut app, &[Key::Char('k'), Key::Right, Key::Enter]);
    assert!(last_text(&app).ends_with("dry run: nothing is sent"));
    app.update(Action::Mitigation(MitigationStage::DryRun {
        request: "POST http://127.0.0.1:4242/api/admin/…/off".into(),
    }));
    let EntryKind::ActionResult { outcome, .. } = &app.timeline.last().unwrap().entry.kind else {
        panic!("a result");
    };
    assert_eq!(*outcome, Outcome::DryRun);
    assert!(last_text(&app).contains("would send: POST http://127.0.0.1:4242"));
    assert!(app.applied.is_empty() && app.undo.is_none() && app.verification.is_none());
}

#[test]
fn undo_puts_the_kill_switch_back_and_is_logged_the_same_way() {
    let mut h = Harness::new("prompt-regression");
    assert!(h.run_until(45, |app| app.incident.is_some()));
    h.apply_mitigation('k');
    let undo = h
        .app
        .undo
        .clone()
        .expect("an undo after a verified mitigation");
    assert_eq!(
        (undo.from.as_str(), undo.to.as_str()),
        ("off (fallback)", "on (AI)")
    );
    assert!(h.app.verification.is_some());
    h.apply_mitigation('u');
    assert_eq!(h.app.undo, None);
    assert_eq!(h.app.verification, None, "its verification ended");
    let kill = h.app.plan(MitigationKind::KillSwitch).unwrap();
    assert_eq!(kill.from, "on (AI)", "read back: the AI path is on again");
    let mitigation_entries: Vec<(&str, String)> = h
        .app
        .timeline
        .iter()
        .filter(|l| {
            matches!(
                l.entry.kind,
                EntryKind::ActionRequested { .. }
                    | EntryKind::ActionConfirmed { .. }
                    | EntryKind::ActionApplied { .. }
                    | EntryKind::ActionResult { .. }
            )
        })
        .map(|l| (l.entry.kind.label(), l.entry.text.clone()))
        .collect();
    let labels: Vec<&str> = mitigation_entries.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        labels,
        [
            "request", "confirm", "applied", "result", "request", "confirm", "applied", "result"
        ]
    );
    assert!(
        mitigation_entries[4]
            .1
            .starts_with("requested undo kill switch")
    );
    assert!(
        mitigation_entries[7].1.contains("AI path on"),
        "{}",
        mitigation_entries[7].1
    );
    assert!(
        h.app.timeline.iter().all(|l| !l.entry.metrics.is_empty()),
        "each with a metric snapshot"
    );
}

#[test]
fn an_undo_that_was_written_counts_even_when_its_read_back_fails() {
    let mut app = app_with_the_kill_switch_verified();
    assert_eq!(app.applied, [MitigationKind::KillSwitch]);
    carry_out(
        &mut app,
        'u',
        vec![
            MitigationStage::Applied {
                answer: "POST …/on → 200 OK".into(),
                undo: None,
            },
            MitigationStage::Failed {
                reason: "applied, but the read-back failed: timeout".into(),
            },
        ],
    );
    assert!(
        app.applied.is_empty(),
        "the kill switch no longer counts as applied"
    );
    assert_eq!(app.undo, None);
    assert_eq!(app.in_flight, None);
}
