//! The Phoenix source against a real Arize Phoenix (tests/backends/servers/phoenix.sh): spans an
//! OpenTelemetry SDK exported to it come back as calls, once each; its prompt versions and tag
//! moves come back as changes with their texts; a Phoenix that is down is Failing until it is up.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flightdeck::app::Action;
use flightdeck::config::sources::PhoenixConfig;
use flightdeck::model::{Call, CallStatus, Change, ChangeKind, SourceState, SourceStatus};
use flightdeck::sources::phoenix;
use serde_json::{Value, json};
use support::peers::{create_prompt_version, http, phoenix_url, tag_prompt_version, unique};
use tokio::sync::mpsc;

const PHOENIX_ADDRESS: &str = "127.0.0.1:16006";

fn config(url: &str, project: &str, prompts: &[&str]) -> PhoenixConfig {
    let text = format!(
        "url = {url:?}\nproject = {project:?}\ninterval_seconds = 1\ntimeout_ms = 2000\nprompts = {prompts:?}"
    );
    toml::from_str(&text).unwrap()
}

/// What the source has sent so far.
struct Seen {
    actions: mpsc::Receiver<Action>,
    calls: Vec<Call>,
    changes: Vec<Change>,
    status: Option<SourceStatus>,
}

impl Seen {
    fn start(config: PhoenixConfig) -> Self {
        let (sender, actions) = mpsc::channel(64);
        tokio::spawn(phoenix::run(config, sender));
        Self {
            actions,
            calls: Vec::new(),
            changes: Vec::new(),
            status: None,
        }
    }

    /// Takes actions until `done` holds; fails after `seconds` saying what was seen.
    async fn until(&mut self, seconds: u64, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.actions.recv()).await {
                Ok(Some(action)) => self.take(action),
                Ok(None) => panic!("the source ended while waiting for {what}"),
                Err(_) => panic!(
                    "no {what} within {seconds} s: {} calls, changes {:?}, status {:?}",
                    self.calls.len(),
                    self.changes
                        .iter()
                        .map(Change::transition)
                        .collect::<Vec<_>>(),
                    self.status
                ),
            }
        }
    }

    /// Takes whatever arrives for `seconds`.
    async fn for_seconds(&mut self, seconds: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while let Ok(Some(action)) = tokio::time::timeout_at(deadline, self.actions.recv()).await {
            self.take(action);
        }
    }

    fn take(&mut self, action: Action) {
        match action {
            Action::Observed {
                now,
                wall,
                calls,
                changes,
                ..
            } => {
                assert_eq!(now, wall, "a live source's clock is the wall clock");
                self.calls.extend(calls);
                self.changes.extend(changes);
            }
            Action::Source(status) => self.status = Some(status),
            other => panic!("the Phoenix source sent {other:?}"),
        }
    }

    fn state(&self) -> Option<&SourceState> {
        self.status.as_ref().map(|status| &status.state)
    }
}

fn nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap()
}

/// A span for tests/backends/export_spans.py: ended `ago_ms` before now, lasting `latency_ms`.
fn span(name: &str, ago_ms: i64, latency_ms: i64, attributes: Value) -> Value {
    let end = Utc::now() - chrono::Duration::milliseconds(ago_ms);
    let start = end - chrono::Duration::milliseconds(latency_ms);
    json!({"name": name, "start_ns": nanos(start), "end_ns": nanos(end), "attributes": attributes})
}

/// Exports the spans to Phoenix under `project` with the Python OpenTelemetry SDK.
fn export(project: &str, spans: Vec<Value>) {
    let python = std::env::var("FLIGHTDECK_TEST_PYTHON").expect("FLIGHTDECK_TEST_PYTHON");
    let spec = json!({
        "endpoint": format!("{}/v1/traces", phoenix_url()),
        "resource": {"service.name": "support-svc", "openinference.project.name": project},
        "spans": spans,
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/backends/export_spans.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "export_spans.py failed");
}

/// LLM spans `batch-<i>` for each i, as a busy app sends them.
fn batch(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| {
            span(
                "ChatCompletion",
                500,
                200,
                json!({
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4.1-nano",
                    "gen_ai.response.id": format!("batch-{i}"),
                }),
            )
        })
        .collect()
}

/// Waits until Phoenix holds `count` spans of the project (it stores what it receives a moment later).
async fn wait_for_spans(project: &str, count: usize) {
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut stored = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/projects/{project}/spans?limit=1000", phoenix_url());
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let response = http.get(url).send().await.unwrap();
            let page: Value = if response.status().is_success() {
                response.json().await.unwrap()
            } else {
                json!({"data": []})
            };
            stored += page["data"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if stored >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Phoenix holds {stored} of {count} spans after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn call<'a>(calls: &'a [Call], model: &str) -> &'a Call {
    calls
        .iter()
        .find(|call| call.model_requested == model)
        .unwrap_or_else(|| panic!("no call for {model} in {calls:?}"))
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn spans_exported_to_phoenix_come_back_as_calls_once_each() {
    let project = unique("fd-spans");
    let mut rate_limited = span(
        "chat gpt-4o-mini",
        2_000,
        1_500,
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 50,
            "error.type": "429",
        }),
    );
    rate_limited["status"] = json!("error");
    rate_limited["message"] = json!("429 Too Many Requests");
    export(
        &project,
        vec![
            span(
                "ChatCompletion",
                3_000,
                812,
                json!({
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o",
                    "llm.provider": "openai",
                    "llm.token_count.prompt": 120,
                    "llm.token_count.completion": 30,
                    "llm.prompt_template.version": "v2",
                    "input.value": "How do I reset my password?",
                    "output.value": "Use the reset link on the sign-in page.",
                    "intent": "account",
                }),
            ),
            rate_limited,
            span(
                "retrieve-and-answer",
                1_000,
                2_500,
                json!({"openinference.span.kind": "CHAIN"}),
            ),
            span(
                "ChatCompletion",
                1_000,
                100,
                json!({"openinference.span.kind": "LLM"}),
            ),
        ],
    );

    // More than a page (Phoenix sends at most 1000 spans at a time) waits for the first poll.
    export(&project, batch(0..1500));
    wait_for_spans(&project, 1504).await;

    let mut seen = Seen::start(config(&phoenix_url(), &project, &[]));
    seen.until(30, "the first 1502 calls", |seen| seen.calls.len() >= 1502)
        .await;
    let answer = call(&seen.calls, "gpt-4o");
    assert_eq!(answer.feature, project);
    assert_eq!(answer.status, CallStatus::Ok);
    assert!(
        (answer.latency_ms - 812.0).abs() < 1.0,
        "{}",
        answer.latency_ms
    );
    assert_eq!((answer.tokens_in, answer.tokens_out), (Some(120), Some(30)));
    assert_eq!(answer.provider.as_deref(), Some("openai"));
    assert_eq!(answer.prompt_version.as_deref(), Some("v2"));
    assert_eq!(answer.input.as_deref(), Some("How do I reset my password?"));
    assert_eq!(
        answer.output.as_deref(),
        Some("Use the reset link on the sign-in page.")
    );
    assert_eq!(answer.attribute("intent"), Some("account"));
    let limited = call(&seen.calls, "gpt-4o-mini");
    assert_eq!(limited.status, CallStatus::RateLimited);
    assert_eq!(
        limited.model_served.as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert!((limited.latency_ms - 1_500.0).abs() < 1.0);
    assert_eq!(limited.tokens_in, Some(50));
    assert!(limited.ts > answer.ts, "calls come in time order");

    seen.until(5, "the span counts", |seen| {
        seen.status
            .as_ref()
            .is_some_and(|s| s.skipped == 1 && s.rejected == 1)
    })
    .await;
    let status = seen.status.clone().unwrap();
    assert_eq!(status.name, format!("phoenix {PHOENIX_ADDRESS}/{project}"));
    assert_eq!(status.state, SourceState::Connected);
    assert_eq!(status.received, 1502);
    assert!(status.last_error.unwrap().contains("gen_ai.request.model"));
    assert!(status.lag_ms.is_some_and(|lag| (0..60_000).contains(&lag)));

    // Spans that arrive while the source runs come once each too.
    export(&project, batch(1500..1800));
    seen.until(60, "1802 calls", |seen| seen.calls.len() >= 1802)
        .await;
    seen.for_seconds(3).await;
    assert_eq!(seen.calls.len(), 1802, "no span is delivered twice");
    let ids: HashSet<&str> = seen
        .calls
        .iter()
        .filter_map(|c| c.request_id.as_deref())
        .collect();
    assert_eq!(ids.len(), 1802);
    assert!((0..1800).all(|i| ids.contains(format!("batch-{i}").as_str())));
    assert_eq!(seen.status.unwrap().received, 1802);
}

fn text(system: &str) -> String {
    format!("system: {system}\n\nuser: {{{{question}}}}")
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn prompt_versions_and_tag_moves_become_changes_with_their_texts() {
    let http = http();
    let prompt = unique("fd-prompt");
    let first = "Answer only from the help center articles.";
    let second = "Answer only from the help center articles. Cite the article.";
    let third = "Answer briefly.";
    let v1 = create_prompt_version(&http, &prompt, "gpt-4o", first, Some("first")).await;
    let v2 = create_prompt_version(&http, &prompt, "gpt-4o", second, Some("cite sources")).await;
    create_prompt_version(&http, &prompt, "gpt-4o", third, Some("shorter answers")).await;
    tag_prompt_version(&http, &v2, "production").await;
    let created = Utc::now();

    let mut seen = Seen::start(config(&phoenix_url(), "default", &[&prompt]));
    seen.until(30, "three versions", |seen| seen.changes.len() >= 3)
        .await;
    let transitions: Vec<String> = seen.changes.iter().map(Change::transition).collect();
    assert_eq!(transitions, ["→ v1", "v1 → v2", "v2 → v3"]);
    // Deployed by tag: only the tagged version is a deploy, the others were only written.
    let kinds: Vec<ChangeKind> = seen.changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ChangeKind::ConfigChange,
            ChangeKind::PromptDeploy,
            ChangeKind::ConfigChange
        ]
    );
    let change = &seen.changes[1];
    assert_eq!(change.target, prompt);
    assert_eq!(change.note.as_deref(), Some("cite sources"));
    assert_eq!(change.text_from, Some(text(first)));
    assert_eq!(change.text_to, Some(text(second)));
    assert!(
        (created - change.ts).num_seconds().abs() < 60,
        "{}",
        change.ts
    );
    assert_eq!(change.extra[phoenix::prompts::VERSION_ID], v2.as_str());
    let tagged: Vec<bool> = seen
        .changes
        .iter()
        .map(|change| change.extra.get(phoenix::prompts::TAG) == Some(&json!("production")))
        .collect();
    assert_eq!(tagged, [false, true, false]);

    // A rollback: the tag goes back to v1.
    tag_prompt_version(&http, &v1, "production").await;
    let moved_at = Utc::now();
    seen.until(10, "the rollback", |seen| seen.changes.len() >= 4)
        .await;
    let rollback = &seen.changes[3];
    assert_eq!(rollback.transition(), "v2 → v1");
    assert_eq!(
        rollback.note.as_deref(),
        Some("production tag moved back from v2 to v1: a rollback")
    );
    assert_eq!(
        (rollback.text_from.clone(), rollback.text_to.clone()),
        (Some(text(second)), Some(text(first)))
    );
    assert!((rollback.ts - moved_at).num_seconds().abs() < 10);

    // A new version created with the tag on it: the version, and the deploy.
    let fourth = "Answer briefly, in the customer's language.";
    let url = format!("{}/v1/prompts/{prompt}/versions", phoenix_url());
    let mut body = json!({"version": {
        "model_provider": "OPENAI", "model_name": "gpt-4o",
        "template_type": "CHAT", "template_format": "MUSTACHE",
        "template": {"type": "chat", "messages": [
            {"role": "system", "content": fourth}, {"role": "user", "content": "{{question}}"}
        ]},
        "invocation_parameters": {"type": "openai", "openai": {}}
    }});
    body["tags"] = json!([{"name": "production"}]);
    let response = http.post(url).json(&body).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    seen.until(10, "v4 and its deploy", |seen| seen.changes.len() >= 6)
        .await;
    let transitions: Vec<String> = seen.changes[4..].iter().map(Change::transition).collect();
    assert_eq!(transitions, ["v3 → v4", "v1 → v4"]);
    assert_eq!(
        (seen.changes[4].kind, seen.changes[5].kind),
        (ChangeKind::ConfigChange, ChangeKind::PromptDeploy)
    );
    assert_eq!(seen.changes[5].text_to, Some(text(fourth)));
    seen.for_seconds(2).await;
    assert_eq!(seen.changes.len(), 6, "nothing is reported twice");
    assert_eq!(seen.state(), Some(&SourceState::Connected));
}

/// Relays connections from `listener` to Phoenix, as a Phoenix that came up late would answer.
fn relay_to_phoenix(listener: TcpListener) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(PHOENIX_ADDRESS) else {
                continue;
            };
            let (mut client_in, mut server_in) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut client_out, mut server_out) = (client, server);
            std::thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
            std::thread::spawn(move || std::io::copy(&mut server_in, &mut client_out));
        }
    });
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_phoenix_that_is_down_is_failing_and_polled_until_it_answers() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut seen = Seen::start(config(&format!("http://127.0.0.1:{port}"), "default", &[]));
    seen.until(10, "Failing", |seen| {
        matches!(seen.state(), Some(SourceState::Failing(_)))
    })
    .await;
    let Some(SourceState::Failing(error)) = seen.state() else {
        unreachable!()
    };
    assert!(
        error.starts_with(&format!(
            "Phoenix http://127.0.0.1:{port}/v1/projects/default/spans"
        )) && error.contains("refused"),
        "{error}"
    );

    relay_to_phoenix(TcpListener::bind(("127.0.0.1", port)).unwrap());
    seen.until(10, "Connected", |seen| {
        seen.state() == Some(&SourceState::Connected)
    })
    .await;
    let status = seen.status.unwrap();
    assert!(
        status.last_error.unwrap().contains("refused"),
        "the last error is kept"
    );
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_project_phoenix_does_not_have_is_failing_and_says_so() {
    let project = unique("fd-missing");
    let mut seen = Seen::start(config(&phoenix_url(), &project, &["fd-no-such-prompt"]));
    seen.until(10, "Failing", |seen| {
        matches!(seen.state(), Some(SourceState::Failing(_)))
    })
    .await;
    let Some(SourceState::Failing(error)) = seen.state() else {
        unreachable!()
    };
    assert!(
        error.contains(&format!("no project {project:?}")),
        "{error}"
    );
}
