//! Whole-frame snapshots of the cockpit, rendered into a `TestBackend`, for each scenario at a
//! fixed seed and virtual time, and for the popups and the small-terminal message.

mod support;

use flightdeck::app::keymap::Key;
use flightdeck::sim::scenario::BUILTIN;
use support::Harness;

/// A harness run to 12 virtual minutes after the scenario's change.
fn mid_incident(scenario: &str) -> Harness {
    let mut h = Harness::new(scenario);
    h.run_past_change(12);
    h
}

#[test]
fn each_scenario_mid_incident_at_120x35() {
    for (name, _) in BUILTIN {
        let h = mid_incident(name);
        insta::assert_snapshot!(format!("{name}_120x35"), h.render(120, 35));
    }
}

#[test]
fn prompt_regression_at_160x45_and_100x30() {
    let h = mid_incident("prompt-regression");
    insta::assert_snapshot!("prompt-regression_160x45", h.render(160, 45));
    insta::assert_snapshot!("prompt-regression_100x30", h.render(100, 30));
}

#[test]
fn an_unexplained_triage_shows_what_would_decide_it_and_the_kill_switch() {
    let mut h = mid_incident("prompt-regression");
    h.as_unexplained();
    let frame = h.render(120, 35);
    for text in [
        "→ UNEXPLAINED · meanwhile: k kill switch",
        "What would decide it",
        "a change record for the deploy that preceded",
        "4 Data",
    ] {
        assert!(frame.contains(text), "{text} missing:\n{frame}");
    }
    assert!(!frame.contains("PROMPT"), "{frame}");
    insta::assert_snapshot!(frame);
}

#[test]
fn before_the_baseline_is_learned() {
    let mut h = Harness::new("prompt-regression");
    h.run_minutes(3);
    insta::assert_snapshot!(h.render(120, 35));
}

#[test]
fn the_confirm_dialog_names_backend_target_and_change_with_cancel_first() {
    let mut h = mid_incident("prompt-regression");
    h.press(Key::Char('r'));
    let frame = h.render(120, 35);
    assert!(frame.contains("v8  →  v7"), "{frame}");
    assert!(
        frame.contains("[▸ Cancel ◂]"),
        "Cancel is focused first: {frame}"
    );
    insta::assert_snapshot!(frame);
}

#[test]
fn the_help_overlay_lists_the_key_table() {
    let mut h = mid_incident("prompt-regression");
    h.press(Key::Char('?'));
    let frame = h.render(100, 30);
    for text in [
        "Cockpit",
        "Confirm dialog",
        "incident record",
        "Editors",
        "Popups",
        "Presenter view",
        "every action is logged",
    ] {
        assert!(frame.contains(text), "{text} missing at 100x30: {frame}");
    }
    insta::assert_snapshot!(frame);
}

#[test]
fn the_prompt_diff_shows_the_six_removed_words() {
    let mut h = mid_incident("prompt-regression");
    h.press(Key::Char('w'));
    let frame = h.render(120, 35);
    assert!(frame.contains("6 words removed"), "{frame}");
    assert!(frame.contains("[-Answer only from the provided"), "{frame}");
    insta::assert_snapshot!(frame);
}

#[test]
fn read_only_hides_the_mitigation_keys() {
    let mut h = Harness::with_settings("prompt-regression", support::SEED, true);
    h.run_past_change(12);
    let frame = h.render(120, 35);
    assert!(frame.contains("read-only: disabled"), "{frame}");
    assert!(!frame.contains("r roll back prompt"), "{frame}");
    assert!(frame.contains("advice: roll back prompt"), "{frame}");
    assert!(frame.contains("? help"), "{frame}");
    insta::assert_snapshot!(frame);
}

#[test]
fn a_terminal_below_100x30_asks_for_a_larger_window() {
    let h = mid_incident("prompt-regression");
    insta::assert_snapshot!(h.render(80, 24));
}

#[test]
fn a_live_cockpit_shows_its_sources_and_infrastructure_readings() {
    use flightdeck::app::Action;
    use flightdeck::model::{InfraReading, SourceState, SourceStatus};

    let mut h = mid_incident("provider-degradation");
    let now = h.now();
    let seconds = chrono::Duration::seconds;
    let mut otlp = SourceStatus::waiting("otlp 127.0.0.1:4318");
    otlp.state = SourceState::Connected;
    otlp.last_data = Some(now - seconds(1));
    otlp.lag_ms = Some(420);
    otlp.received = 18_204;
    otlp.dropped = 200;
    let mut file = SourceStatus::waiting("calls /var/log/support/calls.jsonl");
    file.state = SourceState::Connected;
    file.last_data = Some(now - seconds(3));
    file.received = 5_120;
    file.rejected = 2;
    file.last_error =
        Some("/var/log/support/calls.jsonl line 4411: missing field `ts` (column 1)".into());
    let mut prometheus = SourceStatus::waiting("prometheus 127.0.0.1:9090");
    prometheus.state = SourceState::Failing("connection refused".into());
    prometheus.last_data = Some(now - seconds(95));
    prometheus.last_error = Some("provider 429 rate: connection refused".into());
    for status in [otlp, file, prometheus] {
        h.dispatch(Action::Source(status));
    }
    h.dispatch(Action::Infra(vec![InfraReading {
        name: "provider 429 rate".into(),
        query: "sum(rate(llm_requests_total{code=\"429\"}[5m]))".into(),
        unit: Some("%".into()),
        value: Some(0.083),
        at: now - seconds(95),
        range: (0..12)
            .map(|i: i32| {
                (
                    now - seconds(i64::from(300 * (12 - i))),
                    0.005 * f64::from(i),
                )
            })
            .collect(),
        warn_above: Some(0.05),
        series: 1,
        error: None,
        warnings: Vec::new(),
    }]));
    let frame = h.render(120, 35);
    for text in [
        "Sources · 2 connected, 1 failing",
        "18204 in · 200 dropped · 1s ago",
        "line 4411: missing field `ts`",
        "FAILING · 0 in · 1m35s ago",
        "↳ connection refused",
        "8.3% above 5.0%",
    ] {
        assert!(frame.contains(text), "{text} missing:\n{frame}");
    }
    insta::assert_snapshot!(frame);
}

/// Plans as real backends give them: a Phoenix rollback with versions to pick from, an Unleash
/// that cannot be read, and a kill switch in production.
fn backend_plans(now: chrono::DateTime<chrono::Utc>) -> Vec<flightdeck::model::MitigationPlan> {
    use flightdeck::model::{MitigationKind, MitigationPlan, PlanChoice};

    let created = |n: i64| now - chrono::Duration::hours(4 - n);
    let label = |n: i64| format!("v{n} · {}", created(n).format("%Y-%m-%d %H:%M"));
    let version = |n: i64, id: &str, text: &str| PlanChoice {
        label: label(n),
        id: id.into(),
        created_at: Some(created(n)),
        text: Some(text.into()),
        operation: format!("POST /v1/prompt_versions/{id}/tags {{\"name\":\"production\"}}"),
    };
    let rollback = MitigationPlan {
        target: "prompt support-answer, tag production".into(),
        operation: "POST /v1/prompt_versions/UHJvbXB0VmVyc2lvbjoy/tags {\"name\":\"production\"}"
            .into(),
        from: label(3),
        to: label(2),
        from_id: "UHJvbXB0VmVyc2lvbjoz".into(),
        to_id: "UHJvbXB0VmVyc2lvbjoy".into(),
        from_text: Some("system: You answer customer questions. Cite each article you use.".into()),
        choices: vec![
            version(
                2,
                "UHJvbXB0VmVyc2lvbjoy",
                "system: You answer customer questions. Answer only from the articles given \
                 below. Cite each article you use.",
            ),
            version(
                1,
                "UHJvbXB0VmVyc2lvbjox",
                "system: You answer customer questions.",
            ),
        ],
        confirm_name: Some("support-answer".into()),
        ..MitigationPlan::new(MitigationKind::PromptRollback, "phoenix")
    };
    let pin = MitigationPlan::unavailable(
        MitigationKind::ModelPin,
        "unleash",
        "Unleash http://127.0.0.1:4242/api/admin/projects/default/features/support-answer-model: \
         connection failed: Connection refused (os error 111)",
    );
    let kill = MitigationPlan {
        target: "flag support-answer-ai in production".into(),
        operation:
            "POST /api/admin/projects/default/features/support-answer-ai/environments/production/off"
                .into(),
        from: "on (AI serving)".into(),
        to: "off (fallback)".into(),
        from_id: "on".into(),
        to_id: "off".into(),
        confirm_name: Some("support-answer-ai".into()),
        ..MitigationPlan::new(MitigationKind::KillSwitch, "unleash")
    };
    vec![rollback, pin, kill]
}

#[test]
fn the_version_picker_shows_dates_the_word_diff_and_the_name_to_type() {
    let mut h = mid_incident("prompt-regression");
    h.dispatch(flightdeck::app::Action::PlansRead(backend_plans(h.now())));
    h.press(Key::Char('r'));
    h.press(Key::Down);
    for c in "support-".chars() {
        h.press(Key::Char(c));
    }
    insta::assert_snapshot!(h.render(120, 35));
    // At the smallest size the cockpit draws, the versions and the diff give way to the buttons.
    let small = h.render(100, 30);
    assert!(
        small.contains("Cancel") && small.contains("operation POST /v1/prompt_versions/"),
        "{small}"
    );
}

#[test]
fn a_long_operation_is_shown_whole_after_the_change() {
    use flightdeck::model::{MitigationKind, MitigationPlan};

    let mut h = mid_incident("prompt-regression");
    let pin = MitigationPlan {
        target: "flag support-answer-model in production, its first strategy (partial: 1 other \
                 strategy stays unpinned)"
            .into(),
        operation: "PUT /api/admin/projects/default/features/support-answer-model/environments/\
                    production/strategies/6f1c2a8e-4b9d-4c55-9a51-2d1f0e7b3c44"
            .into(),
        from: "floating (no pin)".into(),
        to: "gpt-4o-2024-08-06".into(),
        from_id: "[]".into(),
        to_id: "[pinned]".into(),
        ..MitigationPlan::new(MitigationKind::ModelPin, "unleash")
    };
    h.dispatch(flightdeck::app::Action::PlansRead(vec![pin]));
    h.press(Key::Char('p'));
    insta::assert_snapshot!(h.render(120, 35));
}

#[test]
fn the_mitigations_pane_wraps_a_backend_error_and_offers_the_undo() {
    let mut h = mid_incident("prompt-regression");
    let plans = backend_plans(h.now());
    let mut undo = plans[2].clone();
    std::mem::swap(&mut undo.from, &mut undo.to);
    undo.undo = true;
    h.dispatch(flightdeck::app::Action::PlansRead(plans));
    h.app.undo = Some(undo);
    insta::assert_snapshot!(h.render(120, 35));
}
