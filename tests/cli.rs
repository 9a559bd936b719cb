//! The binary as a user and a script see it: listings, exit codes and the errors for bad input.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::cockpit::Cockpit;
use support::wait;

fn flightdeck(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .env("FLIGHTDECK_DATA_DIR", data_dir)
        .output()
        .expect("the binary runs")
}

/// The built-in scenarios and the category each plants.
const BUILT_INS: [(&str, &str); 5] = [
    ("prompt-regression", "prompt"),
    ("silent-model-update", "model"),
    ("input-drift", "data"),
    ("provider-degradation", "infrastructure"),
    ("red-herring", "model"),
];

/// Fails naming what stderr said instead.
fn assert_stderr_says(output: &Output, expected: &str) {
    let said = stderr(output);
    assert!(said.contains(expected), "{expected:?} not in {said}");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn scenarios_lists_the_five_built_ins_with_their_category() {
    let dir = tempfile::tempdir().unwrap();
    let output = flightdeck(&["scenarios"], dir.path());
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for (name, category) in BUILT_INS {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(category), "{line}");
    }
}

#[test]
fn a_bad_scenario_file_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    let text = flightdeck::sim::scenario::BUILTIN[0].1.replacen(
        "eval_coverage = 0.8",
        "eval_coverage = 1.8",
        1,
    );
    std::fs::write(&file, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("eval_coverage"))
        .unwrap()
        + 1;
    let output = flightdeck(&["demo", "--scenario", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("broken.toml:{line}: eval_coverage:")),
        "{message}"
    );
}

#[test]
fn an_unknown_scenario_name_exits_2_and_lists_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let output = flightdeck(&["demo", "--scenario", "no-such-thing"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert_stderr_says(&output, "prompt-regression");
}

#[test]
fn an_unusable_data_dir_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("file-not-dir");
    std::fs::write(&blocked, "x").unwrap();
    let output = flightdeck(&["demo"], &blocked);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("file-not-dir"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn incidents_and_export_read_what_the_cockpit_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let empty = flightdeck(&["incidents"], dir.path());
    assert!(String::from_utf8_lossy(&empty.stdout).contains("no incidents"));
    let missing = flightdeck(&["export", "latest", "--format", "md"], dir.path());
    assert_eq!(missing.status.code(), Some(2));

    let mut store =
        flightdeck::incident::store::TimelineStore::open(dir.path(), "INC-20260314-141800")
            .unwrap();
    store
        .append(&flightdeck::model::TimelineEntry {
            seq: 1,
            ts: "2026-03-14T14:18:00Z".parse().unwrap(),
            recorded_at: "2026-03-14T14:18:00Z".parse().unwrap(),
            actor: "flightdeck".into(),
            kind: flightdeck::model::EntryKind::Opened {
                id: "INC-20260314-141800".into(),
                title: "Hallucination critical".into(),
                severity: flightdeck::model::Severity::Sev2,
                source: "demo:prompt-regression seed 42".into(),
                drill: None,
            },
            text: "SEV2 opened: Hallucination critical".into(),
            metrics: Default::default(),
        })
        .unwrap();

    let list = String::from_utf8(flightdeck(&["incidents"], dir.path()).stdout).unwrap();
    assert!(
        list.contains("INC-20260314-141800") && list.contains("DETECTED"),
        "{list}"
    );

    let md =
        String::from_utf8(flightdeck(&["export", "latest", "--format", "md"], dir.path()).stdout)
            .unwrap();
    assert!(
        md.contains("# INC-20260314-141800: Hallucination critical"),
        "{md}"
    );
    assert!(md.contains("2026-03-14 14:18:00 UTC"), "{md}");

    let out = dir.path().join("incident.json");
    let json = flightdeck(
        &[
            "export",
            "INC-20260314-141800",
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(value["version"], 3);
    assert_eq!(value["format"], "flightdeck-postmortem");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["scenarios", "--help"],
        vec!["incidents", "--help"],
        vec!["export", "--help"],
        vec!["record", "--help"],
    ] {
        let output = flightdeck(&args, dir.path());
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

fn triage_json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("triage --json prints JSON")
}

#[test]
fn triage_names_each_built_in_scenarios_category_as_json() {
    let dir = tempfile::tempdir().unwrap();
    for (name, category) in BUILT_INS {
        let report = triage_json(&flightdeck(
            &["triage", "--scenario", name, "--json"],
            dir.path(),
        ));
        assert_eq!(report["category"], category, "{name}: {report:#}");
        assert_eq!(report["bad_lines"], 0);
        let confidence = report["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence), "{name}: {confidence}");
        assert_eq!(report["steps"].as_array().unwrap().len(), 4);
        for metric in ["hallucination_rate", "schema_compliance", "latency_p95_ms"] {
            assert!(
                report["metrics"][metric]["baseline"].is_number(),
                "{name}: {metric} in {report:#}"
            );
        }
    }
}

#[test]
fn triage_json_says_why_outputs_broke_their_schema() {
    let dir = tempfile::tempdir().unwrap();
    let report = triage_json(&flightdeck(
        &["triage", "--scenario", "silent-model-update", "--json"],
        dir.path(),
    ));
    let violations = report["metrics"]["schema_compliance"]["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("no violations in {report:#}"));
    let reasons: Vec<&str> = violations
        .iter()
        .map(|v| v["reason"].as_str().unwrap())
        .collect();
    // The new snapshot breaks the schema in the four ways the simulator knows.
    for reason in [
        "wrapped in a ```json fence",
        "missing required property 'citations'",
        "prose before the JSON",
        "'confidence' is not a number",
    ] {
        assert!(reasons.contains(&reason), "{reason} not in {reasons:?}");
    }
    let counts: Vec<u64> = violations
        .iter()
        .map(|v| v["calls"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most frequent first: {counts:?}"
    );
    assert!(violations.iter().all(|v| v["schema"] == "support_answer"));
    assert!(
        report["metrics"]["hallucination_rate"]
            .get("violations")
            .is_none()
    );
}

#[test]
fn triage_of_a_recording_reports_bad_lines_by_number_and_goes_on() {
    use flightdeck::sim::scenario::Scenario;
    use flightdeck::sim::{SimOutput, Simulator};

    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::builtin("prompt-regression").unwrap().unwrap();
    let end = scenario.start + chrono::Duration::minutes(90);
    let (mut calls, mut changes) = (Vec::new(), Vec::new());
    for output in Simulator::new(scenario, 3).advance_to(end) {
        match output {
            SimOutput::Call(call) => calls.push(serde_json::to_string(&call).unwrap()),
            SimOutput::Change(change) => changes.push(serde_json::to_string(&change).unwrap()),
        }
    }
    calls.insert(2, "{\"ts\": \"not a time\"}".into());
    let events = dir.path().join("calls.jsonl");
    let feed = dir.path().join("changes.jsonl");
    std::fs::write(&events, calls.join("\n")).unwrap();
    std::fs::write(&feed, changes.join("\n")).unwrap();
    let output = flightdeck(
        &[
            "triage",
            "--events",
            events.to_str().unwrap(),
            "--changes",
            feed.to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    let report = triage_json(&output);
    assert_stderr_says(&output, "calls.jsonl:3: skipped");
    assert_eq!(report["bad_lines"], 1);
    assert_eq!(report["calls"], calls.len() as u64 - 1);
    assert_eq!(report["category"], "prompt", "{report:#}");
    assert_eq!(report["recommendation"]["kind"], "prompt_rollback");
}

/// Calls from 13:00 to 14:50, thirty a minute, with hallucination stepping from 4% to 20% at
/// 14:15: no change recorded, no served model, no attributes.
fn hallucination_rises_with_nothing_recorded() -> String {
    let start: chrono::DateTime<chrono::Utc> = "2026-03-14T13:00:00Z".parse().unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut coin = |p: f64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 / (1_u64 << 53) as f64) < p
    };
    let mut lines = Vec::new();
    for minute in 0..110 {
        for i in 0..30 {
            let ts = start + chrono::Duration::seconds(minute * 60 + 2 * i);
            let p = if minute < 75 { 0.04 } else { 0.2 };
            lines.push(
                serde_json::json!({
                    "ts": ts.to_rfc3339(), "feature": "support-answer",
                    "request_id": format!("req-{minute}-{i}"),
                    "model_requested": "gpt-4o", "status": "ok", "latency_ms": 1000,
                    "prompt_version": "v7", "output": "{\"answer\":\"ok\"}",
                    "evals": {"hallucination": coin(p)}
                })
                .to_string(),
            );
        }
    }
    lines.join("\n")
}

#[test]
fn triage_says_unexplained_when_every_step_is_ruled_out_and_what_would_decide_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("calls.jsonl");
    std::fs::write(&events, hallucination_rises_with_nothing_recorded()).unwrap();
    let events = events.to_str().unwrap();
    let report = triage_json(&flightdeck(
        &["triage", "--events", events, "--json"],
        dir.path(),
    ));
    assert_eq!(report["category"], "unexplained", "{report:#}");
    assert_eq!(report["confidence"], 0.0);
    assert!(report["classified_at"].is_null());
    let steps = report["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["verdict"] == "ruled_out"),
        "{report:#}"
    );
    // The ranking still lists the four categories.
    assert_eq!(report["ranking"].as_array().unwrap().len(), 4);
    let lines = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    let evidence = lines("headline_evidence");
    assert!(
        evidence[0].starts_with("Hallucination affected "),
        "{evidence:#?}"
    );
    for (line, step) in evidence[1..]
        .iter()
        .zip(["Infrastructure", "Model", "Prompt", "Data"])
    {
        assert!(line.starts_with(&format!("{step} ruled out: ")), "{line}");
    }
    let would_decide = lines("would_decide");
    assert!(
        would_decide[0].starts_with("a change record for the deploy that preceded 14:1"),
        "{would_decide:#?}"
    );
    assert!(would_decide.iter().any(|l| l.contains("model_served")));
    let intermittency = &report["intermittency"];
    assert_eq!(intermittency["metric"], "hallucination_rate");
    assert!(
        intermittency["affected_minutes"].as_u64() <= intermittency["minutes"].as_u64(),
        "{intermittency:#}"
    );
    assert_eq!(report["recommendation"]["kind"], "kill_switch");

    let output = flightdeck(&["triage", "--events", events], dir.path());
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "category     unexplained (every step ruled out)",
        "evidence     Hallucination affected ",
        "would decide a change record for the deploy that preceded",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
}

#[test]
fn a_bad_config_file_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        "[signals]\nrefusal_phrases = [\"Out of scope\"]\nrefusal_phrase = \"typo\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let output = flightdeck(
        &["triage", "--scenario", "red-herring", "--config", config],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    for expected in [config, "line 3", "refusal_phrase"] {
        assert!(message.contains(expected), "{expected} not in {message}");
    }
}

#[test]
fn refusal_phrases_from_the_config_count_as_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("calls.jsonl");
    let lines: Vec<String> = (0..120)
        .map(|i| {
            serde_json::json!({
                "ts": format!("2026-03-14T14:{:02}:{:02}Z", i / 60, i % 60),
                "feature": "support-answer", "model_requested": "gpt-4o", "status": "ok",
                "latency_ms": 900,
                "output": if i % 4 == 0 { "Out of scope for this desk, try the billing team." } else { "Your order ships tomorrow." }
            })
            .to_string()
        })
        .collect();
    std::fs::write(&events, lines.join("\n")).unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(&config, "[signals]\nrefusal_phrases = [\"out of scope\"]\n").unwrap();
    let events = events.to_str().unwrap();
    let refusal = |args: &[&str]| {
        let report = triage_json(&flightdeck(args, dir.path()));
        report["metrics"]["refusal_rate"]["current"].as_f64()
    };
    let plain = ["triage", "--events", events, "--json"];
    let configured = [&plain[..], &["--config", config.to_str().unwrap()]].concat();
    assert_eq!(refusal(&plain), Some(0.0));
    // One answer in four opens with the team's phrase (the window holds 119 of the 120 calls).
    let configured = refusal(&configured).unwrap();
    assert!((configured - 0.25).abs() < 0.01, "{configured}");
}

#[test]
fn watch_without_a_source_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("watch")
        .current_dir(dir.path())
        .env("FLIGHTDECK_DATA_DIR", dir.path())
        .env_remove("FLIGHTDECK_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("no sources") && error.contains("--events"),
        "{error}"
    );
}

#[test]
fn watch_with_a_bad_config_names_its_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        "[sources.otlp]\nlisten = \"127.0.0.1:4318\"\nqueue = 5\n",
    )
    .unwrap();
    let output = flightdeck(&["watch", "--config", config.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("flightdeck.toml") && error.contains("line 3") && error.contains("queue"),
        "{error}"
    );
}

#[test]
fn replay_of_a_missing_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.jsonl");
    let output = flightdeck(&["replay", missing.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nothing.jsonl: cannot open"));
}

/// `watch --events -` reads calls from standard input while the screen reads keys from the
/// terminal: run under `script` for a terminal, fed a bad line, and quit with `q`.
#[test]
fn watch_reads_calls_from_stdin_and_names_a_bad_line_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls.jsonl");
    std::fs::write(
        &calls,
        "{\"ts\":\"2026-11-29T13:00:00Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}\ngarbage\n",
    )
    .unwrap();
    let command = format!(
        "{} watch --events - < {}",
        env!("CARGO_BIN_EXE_flightdeck"),
        calls.display()
    );
    let mut cockpit = Cockpit::start(
        &command,
        Path::new("/dev/null"),
        &[("FLIGHTDECK_DATA_DIR", dir.path().as_os_str())],
    );
    let log =
        || std::fs::read_to_string(dir.path().join("logs/flightdeck.log")).unwrap_or_default();
    wait::until("the bad line in the log", || {
        log().contains("stdin line 2: expected value")
    });
    assert!(cockpit.quit().success());
    let log = log();
    assert!(log.contains("sources=[\"calls stdin\"]"), "{log}");
    assert!(log.contains("stdin line 2: expected value"), "{log}");
}

#[test]
fn a_receiver_setting_that_would_refuse_everything_is_bad_input_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    let out = dir.path().join("calls.jsonl");
    for (setting, said) in [
        (
            "queue_capacity = 0",
            "sources.otlp.queue_capacity = 0: must be at least 1",
        ),
        (
            "max_connections = 0",
            "sources.otlp.max_connections = 0: must be at least 1",
        ),
        (
            "max_bodies_at_once = 0",
            "sources.otlp.max_bodies_at_once = 0: must be at least 1",
        ),
        (
            "idle_timeout_ms = 5",
            "sources.otlp.idle_timeout_ms = 5: must be at least 100",
        ),
    ] {
        std::fs::write(&config, format!("[sources.otlp]\n{setting}\n")).unwrap();
        let output = flightdeck(
            &[
                "record",
                "--config",
                config.to_str().unwrap(),
                "--otlp",
                "127.0.0.1:0",
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(2), "{setting}");
        let error = stderr(&output);
        assert!(error.contains(said), "{error}");
    }
}

#[test]
fn a_retried_call_counts_once_and_the_report_says_how_many_were_retries() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = hallucination_rises_with_nothing_recorded()
        .lines()
        .map(str::to_string)
        .collect();
    // An exporter that re-sends every third call, the second copy just behind the first.
    let retried: Vec<&String> = lines
        .iter()
        .enumerate()
        .flat_map(|(n, line)| std::iter::repeat_n(line, if n % 3 == 0 { 2 } else { 1 }))
        .collect();
    let report_of = |name: &str, lines: &[&String]| {
        let path = dir.path().join(name);
        let text: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        triage_json(&flightdeck(
            &["triage", "--events", path.to_str().unwrap(), "--json"],
            dir.path(),
        ))
    };
    let once = report_of("once.jsonl", &lines.iter().collect::<Vec<_>>());
    let twice = report_of("retried.jsonl", &retried);
    assert_eq!(once["repeated_calls"], 0);
    assert_eq!(
        twice["repeated_calls"],
        lines.len().div_ceil(3),
        "{twice:#}"
    );
    assert_eq!(twice["calls"], once["calls"]);
    for key in ["metrics", "category", "onset", "intermittency"] {
        assert_eq!(twice[key], once[key], "{key}");
    }
}

#[test]
fn triage_time_follows_the_calls_not_their_time_span_and_absurd_dates_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let call = |ts: &str| {
        format!(
            "{{\"ts\":\"{ts}\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}}"
        )
    };
    // A century apart inside the sane years, and three far outside them.
    let lines = [
        call("2001-01-01T00:00:00Z"),
        call("2026-03-14T14:00:00Z"),
        call("2099-06-01T00:00:00Z"),
        call("1970-01-01T00:00:00Z"),
        call("0001-01-01T00:00:00Z"),
        call("9999-12-31T00:00:00Z"),
    ];
    let events = dir.path().join("calls.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let started = std::time::Instant::now();
    let output = flightdeck(
        &["triage", "--events", events.to_str().unwrap(), "--json"],
        dir.path(),
    );
    let report = triage_json(&output);
    assert_eq!(report["calls"], 3);
    assert_eq!(report["out_of_range"], 3, "{report:#}");
    // Stepping every five minutes across 98 years would take minutes; skipping silences, seconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn triage_text_shows_a_recordings_terminal_escapes_instead_of_obeying_them() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("calls.jsonl");
    let feed = dir.path().join("changes.jsonl");
    std::fs::write(
        &events,
        "{\"ts\":\"2026-03-14T14:00:00Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}\n",
    )
    .unwrap();
    std::fs::write(
        &feed,
        "{\"ts\":\"2026-03-14T13:59:00Z\",\"kind\":\"deploy\",\"target\":\"api\\u001b]0;pwned\\u0007\"}\n",
    )
    .unwrap();
    let output = flightdeck(
        &[
            "triage",
            "--events",
            events.to_str().unwrap(),
            "--changes",
            feed.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("api\\x1b]0;pwned\\x07"),
        "{stdout}{}",
        stderr(&output)
    );
    let printed = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
    assert!(!printed.contains(&0x1b) && !printed.contains(&0x07));
}

#[test]
fn the_line_limit_is_the_configs_and_a_limit_no_call_fits_in_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("calls.jsonl");
    let long = format!(
        "{{\"ts\":\"2026-03-14T14:00:00Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5,\"output\":\"{}\"}}",
        "x".repeat(3000)
    );
    let call = "{\"ts\":\"2026-03-14T14:00:01Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}";
    std::fs::write(&events, format!("{long}\n{call}\n")).unwrap();
    let config = dir.path().join("flightdeck.toml");
    let triage = |setting: &str| {
        std::fs::write(&config, format!("[sources]\n{setting}\n")).unwrap();
        let args = ["triage", "--events", events.to_str().unwrap(), "--json"];
        flightdeck(
            &[&args[..], &["--config", config.to_str().unwrap()]].concat(),
            dir.path(),
        )
    };
    let output = triage("max_line_bytes = 2048");
    assert_eq!(triage_json(&output)["bad_lines"], 1);
    assert_stderr_says(
        &output,
        "calls.jsonl:1: skipped: a line of 3107 bytes, over the 2048-byte limit",
    );
    assert_eq!(
        triage_json(&triage("max_line_bytes = 4096"))["bad_lines"],
        0
    );
    let refused = triage("max_line_bytes = 10");
    assert_eq!(refused.status.code(), Some(2));
    assert_stderr_says(
        &refused,
        "sources.max_line_bytes = 10: must be at least 1024",
    );
}

#[test]
fn a_line_over_the_limit_is_counted_and_skipped_without_being_kept() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("calls.jsonl");
    let huge = format!("{{\"ts\":\"{}\"}}", "x".repeat(9 << 20));
    let call = "{\"ts\":\"2026-03-14T14:00:00Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}";
    std::fs::write(&events, format!("{call}\n{huge}\n{call}\n")).unwrap();
    let output = flightdeck(
        &["triage", "--events", events.to_str().unwrap(), "--json"],
        dir.path(),
    );
    let report = triage_json(&output);
    assert_eq!(
        (report["calls"].as_u64(), report["bad_lines"].as_u64()),
        (Some(2), Some(1))
    );
    assert_stderr_says(
        &output,
        "calls.jsonl:2: skipped: a line of 9437194 bytes, over the 8 MiB limit",
    );
}
