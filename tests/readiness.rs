//! The readiness checklist's rules on facts as the gather step would hand them (no servers), a
//! drill handled in the headless cockpit counting as a tested degradation mode, and `flightdeck
//! check` through the binary on a flagd kill switch (a file, so no server) and a webhook.

mod support;

use std::path::Path;
use std::process::Command;

use flightdeck::config::file::{self, ConfigFile};
use flightdeck::incident::store;
use flightdeck::model::{MitigationKind, MitigationPlan};
use flightdeck::readiness::facts::{Backend, CallFacts, Exercise, Facts, RunbookFile, Telemetry};
use flightdeck::readiness::{self, Item, Status, degradation};

fn team() -> ConfigFile {
    file::parse(
        "tests/fixtures/readiness/team.toml",
        include_str!("fixtures/readiness/team.toml"),
    )
    .unwrap()
}

fn plan(kind: MitigationKind, backend: &str, target: &str) -> MitigationPlan {
    MitigationPlan {
        target: target.into(),
        from: "v3 · 2026-11-29 14:02".into(),
        to: "v2 · 2026-11-20 09:00".into(),
        ..MitigationPlan::new(kind, backend)
    }
}

fn call(model: &str) -> CallFacts {
    CallFacts {
        model_requested: model.into(),
        model_served: Some(model.into()),
        hallucinated: Some(false),
        refused: Some(false),
        schema_compliant: Some(true),
    }
}

/// `n` calls that asked for `requested` and were served `served`.
fn served_as(requested: &str, served: &str, n: usize) -> Vec<CallFacts> {
    let call = CallFacts {
        model_served: Some(served.into()),
        ..call(requested)
    };
    vec![call; n]
}

fn telemetry(calls: Vec<CallFacts>) -> Result<Telemetry, String> {
    Ok(Telemetry {
        source: "the last calls in calls.jsonl".into(),
        calls,
    })
}

/// Facts under which the sample team passes every item.
fn ready(config: &ConfigFile) -> Facts {
    Facts {
        prompt_rollback: Backend::Read(Ok(Box::new(plan(
            MitigationKind::PromptRollback,
            "phoenix",
            "prompt support-answer, tag production",
        )))),
        kill_switch: Backend::Read(Ok(Box::new(MitigationPlan {
            from: "on (AI serving)".into(),
            ..plan(
                MitigationKind::KillSwitch,
                "unleash",
                "flag support-answer-ai in production",
            )
        }))),
        telemetry: telemetry(vec![call("gpt-4o-2024-08-06"); 50]),
        exercises: Ok(vec![Exercise {
            incident: "20261120-140000".into(),
            drill: Some("input-drift".into()),
            opened: "2026-11-20 14:00 UTC".into(),
            kill_switch_read_back: true,
            recovered: true,
        }]),
        data_dir: "data".into(),
        runbook: RunbookFile::Read {
            path: "RUNBOOK.md".into(),
            text: flightdeck::runbook::render(config, "team.toml"),
        },
    }
}

fn item<'a>(report: &'a readiness::Report, id: &str) -> &'a Item {
    report.items.iter().find(|i| i.id == id).unwrap()
}

fn evidence(item: &Item) -> String {
    item.evidence.join("\n")
}

#[test]
fn a_ready_team_passes_every_item_and_the_json_has_the_documented_layout() {
    let config = team();
    let report = readiness::assess(&config, &ready(&config));
    assert!(report.all_pass(), "{}", report.to_text());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(
        json["summary"],
        serde_json::json!({"pass": 6, "fail": 0, "unknown": 0})
    );
    let ids: Vec<&str> = report.items.iter().map(|i| i.id).collect();
    assert_eq!(
        ids,
        [
            "prompt_registry",
            "model_pinned",
            "kill_switch",
            "quality_signals",
            "runbook",
            "degradation_tested"
        ]
    );
    let first = &json["items"][0];
    assert_eq!(first["status"], "pass");
    assert!(first["fix"].is_null() && first["evidence"].is_array());
    assert!(report.to_text().starts_with("✔ Prompts are versioned"));
}

#[test]
fn a_floating_alias_in_the_config_or_the_calls_fails_naming_it() {
    let config = file::parse(
        "team.toml",
        &include_str!("fixtures/readiness/team.toml")
            .replace("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-latest"),
    )
    .unwrap();
    let mut facts = ready(&config);
    let mut calls = vec![call("gpt-4o-2024-08-06"); 30];
    calls.extend(served_as("gpt-4o", "gpt-4o-2024-11-20", 20));
    facts.telemetry = telemetry(calls);
    let report = readiness::assess(&config, &facts);
    let models = item(&report, "model_pinned");
    assert_eq!(models.status, Status::Fail);
    let text = evidence(models);
    assert!(
        text.contains("feature ticket-summary: claude-3-5-sonnet-latest is a floating alias"),
        "{text}"
    );
    assert!(
        text.contains(
            "20 of 50 calls requested gpt-4o, served as gpt-4o-2024-11-20 (20), a floating alias"
        ),
        "{text}"
    );
    assert!(models.fix.as_deref().unwrap().contains("dated snapshot"));
    assert!(!report.all_pass());
}

#[test]
fn a_missing_flag_or_fallback_fails_and_an_unreachable_backend_is_unknown() {
    let config = team();
    let mut facts = ready(&config);
    facts.kill_switch = Backend::Read(Ok(Box::new(MitigationPlan {
        target: "flag support-answer-ai in production".into(),
        ..MitigationPlan::unavailable(
            MitigationKind::KillSwitch,
            "unleash",
            "Unleash has no flag support-answer-ai in project default",
        )
    })));
    let report = readiness::assess(&config, &facts);
    let kill = item(&report, "kill_switch");
    assert_eq!(kill.status, Status::Fail);
    assert!(evidence(kill).contains("Unleash has no flag support-answer-ai"));

    facts.kill_switch = Backend::Read(Err("connection refused".into()));
    let report = readiness::assess(&config, &facts);
    assert_eq!(item(&report, "kill_switch").status, Status::Unknown);

    let no_fallback = file::parse(
        "team.toml",
        &include_str!("fixtures/readiness/team.toml").replace(
            "fallback = \"the ticket's first message, unsummarised\"\n",
            "",
        ),
    )
    .unwrap();
    let report = readiness::assess(&no_fallback, &ready(&no_fallback));
    let kill = item(&report, "kill_switch");
    assert_eq!(kill.status, Status::Fail);
    assert!(evidence(kill).contains("feature ticket-summary names no fallback"));

    facts.kill_switch = Backend::NotConfigured;
    assert_eq!(
        item(&readiness::assess(&config, &facts), "kill_switch").status,
        Status::Fail
    );
}

#[test]
fn no_thresholds_no_evaluator_or_a_baseline_past_its_threshold_fail() {
    let without_alerts = file::parse("team.toml", "[[features]]\nname = \"a\"\n").unwrap();
    let report = readiness::assess(&without_alerts, &ready(&without_alerts));
    let quality = item(&report, "quality_signals");
    assert_eq!(quality.status, Status::Fail);
    for key in ["hallucination_rate", "refusal_rate", "schema_compliance"] {
        assert!(
            evidence(quality).contains(&format!("[alerts] sets no {key} threshold")),
            "{quality:#?}"
        );
    }

    let config = team();
    let mut facts = ready(&config);
    facts.telemetry = telemetry(vec![
        CallFacts {
            hallucinated: None,
            ..call("gpt-4o-2024-08-06")
        };
        40
    ]);
    let report = readiness::assess(&config, &facts);
    let quality = item(&report, "quality_signals");
    assert_eq!(quality.status, Status::Fail);
    assert!(
        evidence(quality).contains("hallucination_rate: none of the 40 calls"),
        "{quality:#?}"
    );

    let mut calls = vec![call("gpt-4o-2024-08-06"); 90];
    calls.extend(vec![
        CallFacts {
            refused: Some(true),
            ..call("gpt-4o-2024-08-06")
        };
        10
    ]);
    facts.telemetry = telemetry(calls);
    let report = readiness::assess(&config, &facts);
    let quality = item(&report, "quality_signals");
    assert_eq!(quality.status, Status::Fail);
    assert!(
        evidence(quality).contains("baseline 0.100, already above the alert threshold 0.08"),
        "{quality:#?}"
    );

    facts.telemetry = Err("no [sources.events] file".into());
    let report = readiness::assess(&config, &facts);
    assert_eq!(item(&report, "quality_signals").status, Status::Unknown);
    assert_eq!(item(&report, "model_pinned").status, Status::Unknown);
}

#[test]
fn a_prompt_without_an_earlier_version_fails_and_a_webhook_registry_is_unknown() {
    let config = team();
    let mut facts = ready(&config);
    facts.prompt_rollback = Backend::Read(Ok(Box::new(MitigationPlan::unavailable(
        MitigationKind::PromptRollback,
        "phoenix",
        "support-answer has only v1: there is no other version to move the tag production to",
    ))));
    let report = readiness::assess(&config, &facts);
    assert_eq!(item(&report, "prompt_registry").status, Status::Fail);
    facts.prompt_rollback = Backend::Unaskable("a webhook".into());
    let report = readiness::assess(&config, &facts);
    assert_eq!(item(&report, "prompt_registry").status, Status::Unknown);
    assert!(!report.all_pass());
}

#[test]
fn a_kill_switch_applied_but_not_seen_to_recover_is_not_a_tested_degradation() {
    let config = team();
    let mut facts = ready(&config);
    facts.exercises = Ok(vec![Exercise {
        recovered: false,
        ..facts.exercises.unwrap()[0].clone()
    }]);
    let report = readiness::assess(&config, &facts);
    let tested = item(&report, "degradation_tested");
    assert_eq!(tested.status, Status::Fail);
    assert!(evidence(tested).contains("no verification saw the metrics recover"));
    facts.exercises = Ok(vec![]);
    let report = readiness::assess(&config, &facts);
    assert!(evidence(item(&report, "degradation_tested")).contains("none of the 0 incidents"));
}

#[test]
fn an_incident_handled_with_the_kill_switch_in_the_cockpit_counts_as_tested() {
    let mut harness = support::Harness::new("input-drift");
    harness.mitigate_incident('k');
    let data_dir = harness.data_dir().to_path_buf();
    let ids = store::incident_ids(&data_dir).unwrap();
    let exercises: Vec<Exercise> = ids
        .iter()
        .map(|id| degradation::exercise(id, &store::load(&data_dir, id).unwrap().entries))
        .collect();
    assert!(
        exercises
            .iter()
            .any(|e| e.kill_switch_read_back && e.recovered),
        "{exercises:?}"
    );
    let item = degradation::item(&Ok(exercises), &data_dir);
    assert_eq!(item.status, Status::Pass, "{item:#?}");
}

const FLAGS: &str = r#"{
  "flags": {
    "support-answer-ai": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on"
    }
  }
}"#;

fn flightdeck(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .current_dir(dir)
        .args(["--config", "flightdeck.toml", "--data-dir", "data"])
        .args(args)
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn check_asks_a_flagd_file_and_says_a_webhook_cannot_be_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = |flag: &str| {
        format!(
            "[[features]]\nname = \"support-answer\"\nmodel = \"gpt-4o-2024-08-06\"\n\
             fallback = \"search results\"\n\n\
             [actuators.flagd]\nfile = \"flags.json\"\n\n\
             [actuators.webhook]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"PATH\"\n\n\
             [mitigations.kill_switch]\nbackend = \"flagd\"\nflag = \"{flag}\"\n\n\
             [mitigations.prompt_rollback]\nbackend = \"webhook\"\ntarget = \"support-answer\"\n"
        )
    };
    std::fs::write(dir.path().join("flags.json"), FLAGS).unwrap();
    std::fs::write(
        dir.path().join("flightdeck.toml"),
        config("support-answer-ai"),
    )
    .unwrap();
    let output = flightdeck(dir.path(), &["check", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let by_id = |id: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("kill_switch")["status"], "pass", "{report:#}");
    assert_eq!(by_id("prompt_registry")["status"], "unknown", "{report:#}");
    assert!(
        by_id("prompt_registry")["evidence"][0]
            .as_str()
            .unwrap()
            .contains("webhook")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not ready"), "{stderr}");

    std::fs::write(
        dir.path().join("flightdeck.toml"),
        config("support-answer-gone"),
    )
    .unwrap();
    let output = flightdeck(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("✖ Every AI feature has a kill-switch flag") && text.contains("fix: "),
        "{text}"
    );

    std::fs::write(
        dir.path().join("flightdeck.toml"),
        "[alerts]\nhallucination = 0.1\n",
    )
    .unwrap();
    let output = flightdeck(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_runbook_missing_a_category_does_not_claim_to_walk_all_four() {
    let config = team();
    // names every system but never says "infrastructure"
    let text = flightdeck::runbook::render(&config, "team.toml").replace("nfrastructure", "nfra");
    let item = readiness::runbook_file::item(
        &config,
        &RunbookFile::Read {
            path: "RUNBOOK.md".into(),
            text,
        },
    );
    assert_eq!(item.status, Status::Fail);
    let text = evidence(&item);
    assert!(
        text.contains("RUNBOOK.md does not walk the triage categories infrastructure"),
        "{text}"
    );
    assert!(!text.contains("walks the four triage categories"), "{text}");
    assert!(
        text.contains("RUNBOOK.md names the configured features, flags and prompts"),
        "{text}"
    );
}

#[test]
fn the_runbook_fix_writes_where_check_reads_it() {
    let config = file::parse(
        "../team/team.toml",
        include_str!("fixtures/readiness/team.toml"),
    )
    .unwrap();
    let item = readiness::runbook_file::item(&config, &RunbookFile::NotConfigured);
    let fix = item.fix.unwrap();
    assert!(
        fix.contains("`flightdeck runbook --config ../team/team.toml -o ../team/RUNBOOK.md`"),
        "{fix}"
    );

    let unconfigured = file::parse("../team/team.toml", "[[features]]\nname = \"a\"\n").unwrap();
    let item = readiness::runbook_file::item(&unconfigured, &RunbookFile::NotConfigured);
    let fix = item.fix.unwrap();
    assert!(
        fix.contains("-o ../team/RUNBOOK.md` and set [readiness] runbook = \"RUNBOOK.md\""),
        "{fix}"
    );
}

/// `flightdeck check --config team/flightdeck.toml --json` run in `dir`, as JSON.
fn check_in_subfolder(dir: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .current_dir(dir)
        .args(["--config", "team/flightdeck.toml", "--data-dir", "data"])
        .args(["check", "--json"])
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_DATA_DIR")
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

fn item_json<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap()
}

#[test]
fn check_names_the_runbook_where_it_reads_it_whether_found_or_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("team")).unwrap();
    std::fs::write(
        dir.path().join("team/flightdeck.toml"),
        "[[features]]\nname = \"a\"\n\n[readiness]\nrunbook = \"RUNBOOK.md\"\n",
    )
    .unwrap();
    let report = check_in_subfolder(dir.path());
    let runbook = item_json(&report, "runbook");
    assert!(
        runbook["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("cannot read the runbook team/RUNBOOK.md"),
        "{runbook:#}"
    );
    assert!(
        runbook["fix"]
            .as_str()
            .unwrap()
            .contains("`flightdeck runbook --config team/flightdeck.toml -o team/RUNBOOK.md`"),
        "{runbook:#}"
    );

    std::fs::write(dir.path().join("team/RUNBOOK.md"), "# nothing yet\n").unwrap();
    let report = check_in_subfolder(dir.path());
    let runbook = item_json(&report, "runbook");
    assert!(
        runbook["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("team/RUNBOOK.md does not walk"),
        "{runbook:#}"
    );
}

#[test]
fn calls_pinned_to_a_snapshot_but_served_another_model_fail_naming_both() {
    let config = team();
    let mut facts = ready(&config);
    let mut calls = vec![call("gpt-4o-2024-08-06"); 30];
    calls.extend(served_as("gpt-4o-2024-08-06", "gpt-4o-2024-11-20", 10));
    // a gateway's spelling of the same snapshot is not a substitution
    calls.extend(served_as(
        "gpt-4o-2024-08-06",
        "openai/gpt-4o-2024-08-06",
        5,
    ));
    facts.telemetry = telemetry(calls);
    let report = readiness::assess(&config, &facts);
    let models = item(&report, "model_pinned");
    assert_eq!(models.status, Status::Fail);
    let text = evidence(models);
    assert!(
        text.contains(
            "calls.jsonl: 10 of the 45 calls requesting the snapshot gpt-4o-2024-08-06 were \
             served another model: gpt-4o-2024-11-20 (10)"
        ),
        "{text}"
    );
    assert!(!text.contains("openai/"), "{text}");
    assert!(models.fix.as_deref().unwrap().contains("pinned snapshot"));
}

#[test]
fn a_configured_events_file_not_there_yet_gets_a_fix_saying_how_calls_get_there() {
    let config = file::parse(
        "../team/team.toml",
        include_str!("fixtures/readiness/team.toml"),
    )
    .unwrap();
    let mut facts = ready(&config);
    facts.telemetry =
        Err("cannot read ../team/calls.jsonl: No such file or directory (os error 2)".into());
    let report = readiness::assess(&config, &facts);
    for id in ["model_pinned", "quality_signals"] {
        let unread = item(&report, id);
        assert_eq!(unread.status, Status::Unknown);
        let fix = unread.fix.as_deref().unwrap();
        assert!(
            fix.contains("[sources.events] names ../team/calls.jsonl; if it does not exist yet")
                && fix.contains(
                    "`flightdeck record --otlp 127.0.0.1:4318 --out ../team/calls.jsonl`"
                )
                && fix.contains("the app writing each call as a JSON line"),
            "{id}: {fix}"
        );
        assert!(!fix.contains("Configure [sources.events]"), "{id}: {fix}");
    }

    let without = file::parse("team.toml", "[[features]]\nname = \"a\"\n").unwrap();
    let mut facts = ready(&without);
    facts.telemetry = Err("no [sources.events] file to read recent calls from".into());
    let report = readiness::assess(&without, &facts);
    let fix = item(&report, "model_pinned").fix.clone().unwrap();
    assert!(fix.contains("Configure [sources.events]"), "{fix}");
}

#[test]
fn a_threshold_out_of_range_fails_and_is_not_quoted_as_the_alert() {
    let config = file::parse(
        "team.toml",
        &include_str!("fixtures/readiness/team.toml")
            .replace("hallucination_rate = 0.05", "hallucination_rate = 5"),
    )
    .unwrap();
    let report = readiness::assess(&config, &ready(&config));
    let quality = item(&report, "quality_signals");
    assert_eq!(quality.status, Status::Fail);
    let text = evidence(quality);
    assert!(
        text.contains("[alerts] hallucination_rate = 5 is not a rate in 0..1"),
        "{text}"
    );
    assert!(text.contains("hallucination_rate: measured on"), "{text}");
    assert!(!text.contains("alert above 5"), "{text}");
}
