//! `flightdeck check` against the real Unleash and Phoenix of tests/backends/run.sh, through the
//! built binary: a ready config passes every item and exits 0; a broken one (a floating alias, a
//! kill-switch flag Unleash does not have, no [alerts], a prompt with no earlier version) fails
//! exactly those items, with evidence naming what, and exits 1.

mod support;

use std::path::Path;
use std::process::Command;

use chrono::{TimeZone, Utc};
use flightdeck::incident::store::TimelineStore;
use flightdeck::model::{EntryKind, Outcome, Severity, TimelineEntry};
use reqwest::Method;
use serde_json::{Value, json};
use support::peers::{create_prompt_version, http, server_url, tag_prompt_version, unique};

const TOKEN_VAR: &str = "FLIGHTDECK_TEST_UNLEASH_ADMIN_TOKEN";
const SCHEMA: &str = include_str!("fixtures/readiness/schemas/answer.json");

async fn unleash(method: Method, path: &str, body: Option<Value>) {
    let url = format!("{}{path}", server_url("FLIGHTDECK_TEST_UNLEASH"));
    let mut request = http()
        .request(method.clone(), url)
        .header("Authorization", server_url(TOKEN_VAR));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    assert!(status.is_success(), "{method} {path} → {status}");
}

/// A new kill-switch flag, on in production.
async fn kill_switch_flag() -> String {
    let name = unique("readiness-ai");
    unleash(
        Method::POST,
        "/api/admin/projects/default/features",
        Some(json!({"name": name, "type": "kill-switch"})),
    )
    .await;
    unleash(
        Method::POST,
        &format!("/api/admin/projects/default/features/{name}/environments/production/on"),
        None,
    )
    .await;
    name
}

/// A prompt with `versions` versions, the production tag on the newest.
async fn prompt(versions: usize) -> String {
    let name = unique("readiness-prompt");
    let http = http();
    let mut newest = String::new();
    for n in 0..versions {
        let system = format!("Answer from the articles, take {n}.");
        newest = create_prompt_version(&http, &name, "gpt-4o-2024-08-06", &system, None).await;
    }
    tag_prompt_version(&http, &newest, "production").await;
    name
}

/// The team's config: `alerts` is the [alerts] section or nothing.
fn config(model: &str, flag: &str, prompt: &str, alerts: bool) -> String {
    let alerts = if alerts {
        "[alerts]\nhallucination_rate = 0.05\nrefusal_rate = 0.10\nschema_compliance = 0.95\n"
    } else {
        ""
    };
    format!(
        r#"[[features]]
name = "support-answer"
output_schema = "answer"
model = "{model}"
fallback = "the help-centre search results"

[schemas]
answer = "answer.json"

{alerts}
[readiness]
runbook = "RUNBOOK.md"

[sources.events]
path = "calls.jsonl"

[actuators]
timeout_ms = 5000

[actuators.unleash]
url = "{unleash}"
token_env = "{TOKEN_VAR}"
environment = "production"

[actuators.phoenix]
url = "{phoenix}"

[mitigations.prompt_rollback]
backend = "phoenix"
prompt = "{prompt}"

[mitigations.kill_switch]
backend = "unleash"
flag = "{flag}"
"#,
        unleash = server_url("FLIGHTDECK_TEST_UNLEASH"),
        phoenix = server_url("FLIGHTDECK_TEST_PHOENIX"),
    )
}

/// 100 calls requesting `model`: one in fifty hallucinated, every answer in its schema.
fn calls(model: &str) -> String {
    (0..100)
        .map(|n| {
            json!({
                "ts": format!("2026-12-01T10:{:02}:{:02}Z", n / 60, n % 60),
                "feature": "support-answer",
                "model_requested": model,
                "model_served": "gpt-4o-2024-08-06",
                "status": "ok",
                "latency_ms": 800,
                "output": json!({"answer": format!("Order {n} ships on Monday."), "citations": ["kb-1"]}).to_string(),
                "evals": {"hallucination": n % 50 == 0},
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// A drill in which the kill switch was applied, read back and seen to recover.
fn record_drill(data_dir: &Path) {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 14, 0, 0).unwrap();
    let kinds = [
        EntryKind::Opened {
            id: "INC-20261201-100000".into(),
            title: "game day".into(),
            severity: Severity::Sev3,
            source: "demo:retrieval-drift seed 7".into(),
            drill: Some("retrieval-drift".into()),
        },
        EntryKind::ActionResult {
            action: "kill switch".into(),
            outcome: Outcome::Succeeded,
        },
        EntryKind::Verification {
            action: "kill switch".into(),
            recovered: true,
        },
    ];
    let mut store = TimelineStore::create(data_dir, "INC-20261201-100000").unwrap();
    for (seq, kind) in kinds.into_iter().enumerate() {
        store
            .append(&TimelineEntry {
                seq: seq as u64 + 1,
                ts: at,
                recorded_at: at,
                actor: "oncall".into(),
                kind,
                text: String::new(),
                metrics: Default::default(),
            })
            .unwrap();
    }
}

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

/// Writes the team's files, runs `check --json`, and gives the exit code and the items by id.
fn check(dir: &Path, config: &str, calls: &str) -> (i32, Value) {
    std::fs::write(dir.join("flightdeck.toml"), config).unwrap();
    std::fs::write(dir.join("answer.json"), SCHEMA).unwrap();
    std::fs::write(dir.join("calls.jsonl"), calls).unwrap();
    let output = flightdeck(dir, &["check", "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(report["version"], 1);
    (output.status.code().unwrap(), report)
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no item {id} in {report:#}"))
}

fn evidence(item: &Value) -> String {
    item["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
#[ignore = "needs the real servers of tests/backends/run.sh"]
async fn a_ready_setup_passes_every_item_and_exits_0() {
    let (flag, prompt) = (kill_switch_flag().await, prompt(3).await);
    let dir = tempfile::tempdir().unwrap();
    let config = config("gpt-4o-2024-08-06", &flag, &prompt, true);
    std::fs::write(dir.path().join("flightdeck.toml"), &config).unwrap();
    std::fs::write(dir.path().join("answer.json"), SCHEMA).unwrap();
    let written = flightdeck(dir.path(), &["runbook", "-o", "RUNBOOK.md"]);
    assert!(written.status.success(), "{written:?}");
    record_drill(&dir.path().join("data"));

    let (code, report) = check(dir.path(), &config, &calls("gpt-4o-2024-08-06"));

    for item in report["items"].as_array().unwrap() {
        assert_eq!(item["status"], "pass", "{item:#}");
        assert!(item["fix"].is_null(), "{item:#}");
    }
    assert_eq!(report["summary"]["pass"], 6);
    assert_eq!(code, 0);
    let registry = evidence(item(&report, "prompt_registry"));
    assert!(
        registry.contains(&prompt) && registry.contains("rollback target v2"),
        "{registry}"
    );
    let kill = evidence(item(&report, "kill_switch"));
    assert!(
        kill.contains(&format!(
            "flag {flag} in production (unleash) exists, now on"
        )),
        "{kill}"
    );
    let quality = evidence(item(&report, "quality_signals"));
    assert!(
        quality.contains("hallucination_rate: measured on 100 of 100 calls (100%)")
            && quality.contains("baseline 0.020"),
        "{quality}"
    );
    assert!(
        evidence(item(&report, "degradation_tested"))
            .contains("drill INC-20261201-100000 (retrieval-drift")
    );
}

#[tokio::test]
#[ignore = "needs the real servers of tests/backends/run.sh"]
async fn a_broken_setup_fails_the_items_it_breaks_naming_what_and_exits_1() {
    let missing_flag = unique("readiness-never-created");
    let prompt = prompt(1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config("gpt-4o", &missing_flag, &prompt, false);

    let (code, report) = check(dir.path(), &config, &calls("gpt-4o"));

    assert_eq!(code, 1);
    let failed = |id: &str| {
        let item = item(&report, id);
        assert_eq!(item["status"], "fail", "{item:#}");
        assert!(!item["fix"].as_str().unwrap().is_empty(), "{item:#}");
        evidence(item)
    };
    let models = failed("model_pinned");
    assert!(
        models.contains("feature support-answer: gpt-4o is a floating alias")
            && models.contains("100 of 100 calls requested gpt-4o, served as gpt-4o-2024-08-06 (100), a floating alias"),
        "{models}"
    );
    let kill = failed("kill_switch");
    assert!(
        kill.contains(&format!(
            "Unleash has no flag {missing_flag} in project default"
        )),
        "{kill}"
    );
    let quality = failed("quality_signals");
    for key in ["hallucination_rate", "refusal_rate", "schema_compliance"] {
        assert!(
            quality.contains(&format!("[alerts] sets no {key} threshold")),
            "{quality}"
        );
    }
    let registry = failed("prompt_registry");
    assert!(registry.contains("has only v1"), "{registry}");
    assert!(failed("runbook").contains("cannot read the runbook"));
    failed("degradation_tested");
}
