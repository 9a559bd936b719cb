//! A token given to flightdeck in an environment variable reaches the backend and nothing else:
//! not the screen, the timeline, the log or an export, even when the backend echoes it back in
//! its errors. The real binary under a terminal (`script`), against an Unleash stand-in.

mod support;

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;
use support::cockpit::Cockpit;
use support::fake_server::FakeServer;
use support::wait;

const TOKEN: &str = "s3cr3t-unleash-token-4242";
const FEATURES: &str = "/api/admin/projects/default/features";

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An Unleash whose kill-switch flag reads fine, whose write fails, and whose model flag
/// refuses the token; both failures quote the Authorization header back. It runs on `runtime`'s
/// workers while the test waits on the binary.
fn start_echoing_unleash(runtime: &tokio::runtime::Runtime) -> FakeServer {
    let flag = || async {
        let strategy = json!({
            "id": "strategy-1", "name": "flexibleRollout", "constraints": [],
            "parameters": {"groupId": "support-ai", "rollout": "100", "stickiness": "default"},
            "variants": [], "segments": [], "sortOrder": 0, "disabled": false,
        });
        axum::Json(json!({
            "name": "support-ai",
            "environments": [
                {"name": "production", "enabled": true, "strategies": [strategy]},
            ],
        }))
    };
    let write = |headers: HeaderMap| async move {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "write failed for Authorization: {}",
                authorization(&headers)
            ),
        )
    };
    let refuse = |headers: HeaderMap| async move {
        (
            StatusCode::UNAUTHORIZED,
            format!("You sent {}, which is not a token", authorization(&headers)),
        )
    };
    let routes = Router::new()
        .route(&format!("{FEATURES}/support-ai"), get(flag))
        .route(
            &format!("{FEATURES}/support-ai/environments/production/off"),
            post(write),
        )
        .route(&format!("{FEATURES}/support-model"), get(refuse));
    runtime.block_on(FakeServer::start(routes))
}

/// Every incident's timeline under `data`, as far as it is written.
fn timelines(data: &Path) -> String {
    let Ok(incidents) = std::fs::read_dir(data.join("incidents")) else {
        return String::new();
    };
    incidents
        .flatten()
        .filter_map(|incident| std::fs::read_to_string(incident.path().join("timeline.jsonl")).ok())
        .collect()
}

/// Every file under `dir`, as (path, text).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

#[test]
fn a_token_echoed_by_the_backend_reaches_no_screen_file_log_or_export() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let unleash = start_echoing_unleash(&runtime);
    let url = &unleash.url;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let calls = dir.path().join("calls.jsonl");
    std::fs::write(
        &calls,
        "{\"ts\":\"2026-11-29T13:00:00Z\",\"feature\":\"f\",\"model_requested\":\"m\",\"status\":\"ok\",\"latency_ms\":5}\n",
    )
    .unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        format!(
            "[actuators.unleash]\nurl = \"{url}\"\ntoken_env = \"FLIGHTDECK_TEST_TOKEN\"\n\
             environment = \"production\"\n\n\
             [mitigations.kill_switch]\nbackend = \"unleash\"\nflag = \"support-ai\"\n\n\
             [mitigations.model_pin]\nbackend = \"unleash\"\nflag = \"support-model\"\n\
             model = \"gpt-4o-2024-08-06\"\n"
        ),
    )
    .unwrap();
    let command = format!(
        "{} watch --config {} --events {}",
        env!("CARGO_BIN_EXE_flightdeck"),
        config.display(),
        calls.display()
    );
    let mut cockpit = Cockpit::start(
        &command,
        &dir.path().join("screen.txt"),
        &[
            ("FLIGHTDECK_DATA_DIR", data.as_os_str()),
            ("FLIGHTDECK_TEST_TOKEN", TOKEN.as_ref()),
        ],
    );
    // The backends are read (the pin's read refused, with the echo) before `k` has a plan.
    cockpit.wait_for("refused the token in");
    // The kill switch, with the production flag's name typed: its write fails, echoing the token.
    cockpit.keys("k");
    cockpit.wait_for("type support-ai to apply");
    cockpit.keys("support-ai");
    cockpit.wait_for("support-ai▏  ✓");
    cockpit.keys("\t");
    cockpit.keys("\r");
    wait::until("the failed write in the timeline", || {
        timelines(&data).contains("kill switch failed")
    });
    assert!(cockpit.quit().success());

    let written = files(dir.path());
    let timeline = written
        .iter()
        .find(|(path, _)| path.ends_with("timeline.jsonl"))
        .map(|(_, text)| text.clone())
        .expect("the mitigation opened an incident");
    assert!(
        timeline.contains("kill switch failed") && timeline.contains("[redacted]"),
        "the echoed write failure is in the timeline, scrubbed: {timeline}"
    );
    let log = written
        .iter()
        .find(|(path, _)| path.contains("flightdeck.log"))
        .map(|(_, text)| text.clone())
        .unwrap();
    assert!(log.contains("mitigation failed"), "{log}");
    let screen_text = &written
        .iter()
        .find(|(p, _)| p.ends_with("screen.txt"))
        .unwrap()
        .1;
    assert!(
        screen_text.contains("refused the token in"),
        "the pin's refused read, with the echo, was on screen"
    );
    for (path, text) in &written {
        assert!(!text.contains(TOKEN), "the token is in {path}");
    }
    for format in ["md", "json"] {
        let export = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["export", "latest", "--format", format])
            .env("FLIGHTDECK_DATA_DIR", &data)
            .output()
            .unwrap();
        assert!(export.status.success());
        let text = String::from_utf8_lossy(&export.stdout);
        assert!(text.contains("kill switch failed"), "{text}");
        assert!(!text.contains(TOKEN), "the token is in the {format} export");
    }
}

/// Credentials in urls, in every place a config takes one: none reaches what the program writes
/// or prints, in plain form or as the base64 `Basic` pair a server echoes back.
#[test]
fn passwords_in_configured_urls_reach_no_output_file_or_log() {
    use base64::Engine as _;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start_echoing_unleash(&runtime);
    let unleash = server.url.replace("http://", "http://unluser:unlp4ss@");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(
        &config,
        format!(
            "[signals.embeddings]\nurl = \"http://embuser:embp4ss@127.0.0.1:9/v1\"\nmodel = \"m\"\n\n\
             [sources.prometheus]\nurl = \"http://promuser:promp4ss@127.0.0.1:9\"\n\n\
             [[sources.prometheus.queries]]\nname = \"429s\"\nquery = \"up\"\n\n\
             [sources.phoenix]\nurl = \"http://phxuser:phxp4ss@127.0.0.1:9\"\n\n\
             [actuators.unleash]\nurl = \"{unleash}\"\ntoken_env = \"FLIGHTDECK_TEST_TOKEN\"\n\
             environment = \"production\"\n\n\
             [mitigations.kill_switch]\nbackend = \"unleash\"\nflag = \"support-ai\"\n\n\
             [mitigations.model_pin]\nbackend = \"unleash\"\nflag = \"support-model\"\n\
             model = \"gpt-4o-2024-08-06\"\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("FLIGHTDECK_DATA_DIR", &data)
            .env("FLIGHTDECK_TEST_TOKEN", TOKEN)
            .output()
            .unwrap()
    };
    let runbook = dir.path().join("runbook.md");
    let mut printed = Vec::new();
    for args in [
        vec!["runbook", "-o", runbook.to_str().unwrap()],
        vec!["runbook"],
        vec!["check"],
        vec!["check", "--json"],
    ] {
        let output = run(&args);
        printed.push((
            args.join(" "),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    assert!(printed[0].1.is_empty() || !printed[1].1.is_empty());
    assert!(
        printed[1].1.contains("127.0.0.1"),
        "the runbook names the servers, without their credentials: {}",
        printed[1].1
    );
    let mut everything = files(dir.path());
    everything.extend(printed);
    let secrets = ["unlp4ss", "embp4ss", "promp4ss", "phxp4ss", TOKEN];
    let encoded: Vec<String> = ["unluser:unlp4ss", "promuser:promp4ss", "phxuser:phxp4ss"]
        .iter()
        .map(|pair| base64::engine::general_purpose::STANDARD.encode(pair))
        .collect();
    // The config the test wrote is the one place the secrets belong.
    everything.retain(|(path, _)| !path.ends_with("flightdeck.toml"));
    for (path, text) in &everything {
        for secret in secrets
            .iter()
            .copied()
            .chain(encoded.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "{secret} is in {path}:\n{text}");
        }
    }
}
