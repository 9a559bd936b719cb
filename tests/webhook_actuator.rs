//! The webhook actuator against a local control plane that records every request: the body and
//! signature are as documented in src/actuators/webhook.rs, the secret never leaves the process,
//! and a failed request is reported once, never retried.

mod support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use flightdeck::actuators::webhook::{Webhook, WebhookAction};
use flightdeck::actuators::{Actuator, ActuatorError};
use flightdeck::config::actuators::WebhookConfig;
use flightdeck::model::MitigationKind;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::fake_server::{FakeServer, Received};

/// What the control plane does with each request.
#[derive(Clone)]
enum Behaviour {
    Answer(StatusCode, &'static str),
    /// Answers with the secret in its error text, as a careless control plane might.
    EchoSecret,
    /// Never answers within any test's patience.
    Hang,
}

const SECRET: &str = "whsec-7f3c9a1e-do-not-leak";

async fn hook(State(behaviour): State<Behaviour>) -> Response {
    match behaviour {
        Behaviour::Answer(status, text) => (status, text).into_response(),
        Behaviour::EchoSecret => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("signature mismatch, expected key {SECRET}"),
        )
            .into_response(),
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// Starts a control plane on a free port; returns its hook url and the server, which records
/// what it is sent.
async fn serve(behaviour: Behaviour) -> (String, FakeServer) {
    let routes = Router::new()
        .route("/hooks/flightdeck", post(hook))
        .with_state(behaviour);
    let server = FakeServer::start(routes).await;
    (format!("{}/hooks/flightdeck", server.url), server)
}

/// Sets a variable only this test reads.
fn set_secret(var: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals, so no name resolution), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, SECRET) };
}

fn webhook(url: &str, var: &str, action: WebhookAction, timeout_ms: u64) -> Webhook {
    set_secret(var);
    let config = WebhookConfig {
        url: url.into(),
        secret_env: var.into(),
    };
    Webhook::from_config(&config, action, None, timeout_ms, "alice".into()).unwrap()
}

fn kill_switch() -> WebhookAction {
    WebhookAction::KillSwitch {
        target: "support-ai".into(),
    }
}

/// The signature as a receiver computes it, independently of the actuator.
fn expected_signature(timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn header<'a>(request: &'a Received, name: &str) -> &'a str {
    request.header(name).unwrap()
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
}

#[tokio::test]
async fn a_kill_switch_posts_the_documented_body_signed_with_the_secret() {
    let (url, server) = serve(Behaviour::Answer(StatusCode::OK, "support-ai is off")).await;
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_SIGNED", kill_switch(), 2_000);
    assert_eq!(hook.kind(), MitigationKind::KillSwitch);
    assert!(!hook.can_verify());

    let plan = hook.read().await.unwrap();
    assert_eq!(plan.kind, MitigationKind::KillSwitch);
    assert_eq!(plan.backend, "webhook");
    assert_eq!(plan.target, "support-ai");
    assert_eq!(plan.operation, format!("POST {url}"));
    assert_eq!(plan.to, "off (fallback)");
    assert!(
        plan.from.contains("as your control plane has it"),
        "{}",
        plan.from
    );
    assert_eq!(plan.confirm_name, None);
    let incident = Some("inc-20260101-0001");
    let preview = hook.preview(&plan, incident);
    assert!(preview.starts_with(&format!("POST {url}\n")), "{preview}");
    assert!(
        preview.contains("$FLIGHTDECK_TEST_WEBHOOK_SIGNED"),
        "{preview}"
    );
    assert!(preview.contains(r#""action":"kill_switch""#), "{preview}");
    assert_no_secret(&preview);

    let before = Utc::now();
    let answer = hook.apply(&plan, incident).await.unwrap().answer;
    assert_eq!(answer, format!("POST {url} → 200 OK: support-ai is off"));
    assert_no_secret(&answer);

    let seen = server.received();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(header(request, "content-type"), "application/json");
    let timestamp = header(request, "x-flightdeck-timestamp");
    assert_eq!(
        header(request, "x-flightdeck-signature"),
        expected_signature(timestamp, &request.text())
    );
    for (name, value) in &request.headers {
        assert_no_secret(&format!("{name}: {}", value.to_str().unwrap()));
    }
    assert_no_secret(&request.text());

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let sent_at: DateTime<Utc> = body["sent_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(sent_at.timestamp().to_string(), timestamp);
    assert!(sent_at >= before - chrono::Duration::seconds(1) && sent_at <= Utc::now());
    assert_eq!(
        body,
        serde_json::json!({
            "version": 1,
            "action": "kill_switch",
            "undo": false,
            "target": "support-ai",
            "from": "on",
            "to": "off",
            "requested_by": "alice",
            "incident": "inc-20260101-0001",
            "sent_at": body["sent_at"],
        })
    );
    assert_eq!(
        hook.verify(&plan).await.unwrap_err().to_string(),
        "a webhook cannot be read back"
    );
}

#[tokio::test]
async fn undoing_a_model_pin_sends_the_same_action_with_undo_and_the_ends_swapped() {
    let (url, server) = serve(Behaviour::Answer(StatusCode::ACCEPTED, "")).await;
    let pin = WebhookAction::ModelPin {
        target: "support-answer".into(),
        model: "gpt-4o-2024-08-06".into(),
    };
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_PIN", pin, 2_000);
    let plan = hook.read().await.unwrap();
    assert_eq!(plan.kind, MitigationKind::ModelPin);
    assert_eq!(plan.to, "pinned to gpt-4o-2024-08-06");
    assert_eq!(
        (plan.from_id.as_str(), plan.to_id.as_str()),
        ("current", "gpt-4o-2024-08-06")
    );
    let undo = hook.apply(&plan, None).await.unwrap().undo.unwrap();
    assert!(undo.undo);
    assert_eq!(undo.from, "pinned to gpt-4o-2024-08-06");
    assert_eq!(undo.operation, plan.operation);
    let answer = hook.apply(&undo, None).await.unwrap().answer;
    assert_eq!(answer, format!("POST {url} → 202 Accepted"));

    let seen = server.received();
    let bodies: Vec<Value> = seen
        .iter()
        .map(|s| serde_json::from_slice(&s.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    let undone = &bodies[1];
    assert_eq!(undone["action"], "model_pin");
    assert_eq!(undone["undo"], true);
    assert_eq!(undone["from"], "gpt-4o-2024-08-06");
    assert_eq!(undone["to"], "current");
    assert_eq!(undone["incident"], Value::Null);
    assert_eq!(bodies[0]["undo"], false);
}

#[tokio::test]
async fn a_prompt_rollback_on_a_production_target_asks_for_its_name() {
    let config = WebhookConfig {
        url: "http://127.0.0.1:9/hook".into(),
        secret_env: "FLIGHTDECK_TEST_WEBHOOK_ROLLBACK".into(),
    };
    set_secret(&config.secret_env);
    let rollback = |target: &str| WebhookAction::PromptRollback {
        target: target.into(),
    };
    let hook = Webhook::from_config(
        &config,
        rollback("production-answer"),
        None,
        1_000,
        "a".into(),
    )
    .unwrap();
    let plan = hook.read().await.unwrap();
    assert_eq!(plan.kind, MitigationKind::PromptRollback);
    assert_eq!(plan.to, "previous version");
    assert_eq!(plan.confirm_name.as_deref(), Some("production-answer"));
    let hook =
        Webhook::from_config(&config, rollback("answer"), Some(true), 1_000, "a".into()).unwrap();
    assert_eq!(
        hook.read().await.unwrap().confirm_name.as_deref(),
        Some("answer")
    );
}

#[tokio::test]
async fn a_server_error_is_quoted_scrubbed_and_not_retried() {
    let (url, server) = serve(Behaviour::EchoSecret).await;
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_500", kill_switch(), 2_000);
    let plan = hook.read().await.unwrap();
    let err = hook.apply(&plan, None).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "webhook {url} answered 500 Internal Server Error: signature mismatch, expected key \
             [redacted]"
        )),
        "{err}"
    );
    assert!(err.contains("not retried"), "{err}");
    assert_no_secret(&err);
    // A retry would have been sent before `apply` returned: it awaits its one request and
    // leaves nothing running.
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_refused_signature_names_the_secrets_variable() {
    let (url, _server) = serve(Behaviour::Answer(StatusCode::UNAUTHORIZED, "bad signature")).await;
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_401", kill_switch(), 2_000);
    let plan = hook.read().await.unwrap();
    let err = hook.apply(&plan, None).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "webhook {url} answered 401 Unauthorized: bad signature"
        )),
        "{err}"
    );
    assert!(err.contains("$FLIGHTDECK_TEST_WEBHOOK_401"), "{err}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_control_plane_that_does_not_answer_times_out_once() {
    let (url, server) = serve(Behaviour::Hang).await;
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_SLOW", kill_switch(), 300);
    let plan = hook.read().await.unwrap();
    let started = Instant::now();
    let err = hook.apply(&plan, None).await.unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.starts_with(&format!("webhook {url} did not answer within 300 ms")),
        "{err}"
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_control_plane_that_is_down_is_a_connection_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/flightdeck", listener.local_addr().unwrap());
    drop(listener);
    let hook = webhook(&url, "FLIGHTDECK_TEST_WEBHOOK_DOWN", kill_switch(), 2_000);
    let plan = hook.read().await.unwrap();
    let err = hook.apply(&plan, None).await.unwrap_err();
    assert!(matches!(err, ActuatorError::Unreachable(_)), "{err:?}");
    let err = err.to_string();
    assert!(
        err.starts_with(&format!("webhook {url}: connection failed:")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn a_missing_secret_or_a_bad_url_is_a_config_error_naming_it() {
    let config = WebhookConfig {
        url: "https://control.example/hooks/flightdeck".into(),
        secret_env: "FLIGHTDECK_TEST_WEBHOOK_SECRET_UNSET".into(),
    };
    let err = Webhook::from_config(&config, kill_switch(), None, 1_000, "a".into())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "[actuators.webhook] secret_env names FLIGHTDECK_TEST_WEBHOOK_SECRET_UNSET, but \
         FLIGHTDECK_TEST_WEBHOOK_SECRET_UNSET is unset or empty; export the signing secret in \
         FLIGHTDECK_TEST_WEBHOOK_SECRET_UNSET"
    );
    let config = WebhookConfig {
        url: "control.example:8080/hook".into(),
        ..config
    };
    let err = Webhook::from_config(&config, kill_switch(), None, 1_000, "a".into())
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("[actuators.webhook] url"),
        "{err}"
    );
}
