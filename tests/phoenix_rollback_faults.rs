//! The Phoenix prompt rollback's failures, against a local server that answers the prompt
//! endpoints as Phoenix does and then fails as a real one will not on demand: a 500 on the tag
//! POST, a POST that changes nothing, a refused key, silence, and nothing listening. The happy
//! path runs against a real Phoenix in tests/backend_phoenix_rollback.rs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use flightdeck::actuators::phoenix::PromptTag;
use flightdeck::actuators::{Actuator, ActuatorError};
use flightdeck::config::actuators::{PhoenixRegistryConfig, PromptRollbackConfig};
use serde_json::{Value, json};
use support::fake_server::{self, FakeServer, Received};

const PROMPT: &str = "support-answer";

/// What the server does with a tag POST, or with every request.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Moves the tag, as Phoenix does.
    Phoenix,
    /// Answers the tag POST 500 and changes nothing.
    FailTagPost,
    /// Answers the tag POST 204 and changes nothing.
    IgnoreTagPost,
    /// Answers every request 401 quoting the Authorization header, as a careless gateway might.
    EchoAuthorization,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: String,
    authorization: Option<String>,
}

impl Seen {
    fn of(request: &Received) -> Self {
        Self {
            method: request.method.clone(),
            path: request.path().to_owned(),
            body: request.text(),
            authorization: request.authorization().map(str::to_owned),
        }
    }
}

struct Registry {
    /// (id, system text), oldest first: the id of version n is `PV<n>`.
    versions: Vec<(String, String)>,
    tagged: Option<String>,
}

#[derive(Clone)]
struct Server {
    behaviour: Behaviour,
    registry: Arc<Mutex<Registry>>,
}

fn version_json(id: &str, system: &str) -> Value {
    json!({
        "id": id,
        "model_provider": "OPENAI",
        "model_name": "gpt-4o",
        "template_type": "CHAT",
        "template_format": "MUSTACHE",
        "template": {"type": "chat", "messages": [{"role": "system", "content": system}]},
        "invocation_parameters": {"type": "openai", "openai": {}}
    })
}

async fn handle(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(AUTHORIZATION)
        .map(|value| value.to_str().unwrap().to_owned());
    let mut registry = server.registry.lock().unwrap();
    if server.behaviour == Behaviour::EchoAuthorization {
        return (
            StatusCode::UNAUTHORIZED,
            format!("invalid token: {}", authorization.unwrap_or_default()),
        )
            .into_response();
    }
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "prompts", PROMPT, "versions"]) => {
            let data: Vec<Value> = registry
                .versions
                .iter()
                .rev()
                .map(|(id, system)| version_json(id, system))
                .collect();
            axum::Json(json!({"data": data, "next_cursor": null})).into_response()
        }
        ("GET", ["v1", "prompts", PROMPT, "tags", "production"]) => {
            let tagged = registry.tagged.clone();
            match registry
                .versions
                .iter()
                .find(|(id, _)| Some(id) == tagged.as_ref())
            {
                Some((id, system)) => {
                    axum::Json(json!({"data": version_json(id, system)})).into_response()
                }
                None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
            }
        }
        ("POST", ["graphql"]) => {
            let request: Value = serde_json::from_slice(&body).unwrap();
            let mut data = serde_json::Map::new();
            for (alias, id) in request["variables"].as_object().unwrap() {
                let id = id.as_str().unwrap();
                let sequence: u64 = id.trim_start_matches("PV").parse().unwrap();
                data.insert(
                    alias.clone(),
                    json!({
                        "id": id,
                        "createdAt": format!("2026-11-29T14:0{sequence}:00+00:00"),
                        "sequenceNumber": sequence,
                        "user": null
                    }),
                );
            }
            axum::Json(json!({"data": data})).into_response()
        }
        ("POST", ["v1", "prompt_versions", id, "tags"]) => match server.behaviour {
            Behaviour::FailTagPost => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "database is locked while tagging",
            )
                .into_response(),
            Behaviour::IgnoreTagPost => StatusCode::NO_CONTENT.into_response(),
            _ => {
                registry.tagged = Some((*id).to_owned());
                StatusCode::NO_CONTENT.into_response()
            }
        },
        _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// A Phoenix with v1..v3 of the prompt and the production tag on v3; its url, the server, which
/// records every request, and its state.
async fn serve(behaviour: Behaviour) -> (String, FakeServer, Arc<Mutex<Registry>>) {
    let registry = Arc::new(Mutex::new(Registry {
        versions: (1..=3)
            .map(|n| (format!("PV{n}"), format!("version {n}")))
            .collect(),
        tagged: Some("PV3".into()),
    }));
    let server = Server {
        behaviour,
        registry: Arc::clone(&registry),
    };
    let http = FakeServer::start(Router::new().fallback(handle).with_state(server)).await;
    (http.url.clone(), http, registry)
}

fn actuator(url: &str, api_key_env: Option<&str>, timeout_ms: u64) -> PromptTag {
    let registry = PhoenixRegistryConfig {
        url: url.into(),
        api_key_env: api_key_env.map(str::to_owned),
    };
    let rollback = PromptRollbackConfig::Phoenix {
        prompt: PROMPT.into(),
        tag: "production".into(),
        production: None,
    };
    PromptTag::from_config(&registry, &rollback, timeout_ms).unwrap()
}

fn tag_posts(http: &FakeServer) -> Vec<Seen> {
    http.received()
        .iter()
        .map(Seen::of)
        .filter(|seen| seen.method == Method::POST && seen.path.starts_with("/v1/prompt_versions"))
        .collect()
}

/// Sets a variable only this test reads.
fn set_key(var: &str, key: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, key) };
}

#[tokio::test]
async fn the_apply_re_reads_the_tag_then_posts_it_once_with_the_key_and_the_undo_puts_it_back() {
    let (url, http, registry) = serve(Behaviour::Phoenix).await;
    let var = "FLIGHTDECK_TEST_PHOENIX_ROLLBACK_SENT_KEY";
    set_key(var, "phx-sent-key");
    let actuator = actuator(&url, Some(var), 2_000);
    let plan = actuator.read().await.unwrap();
    http.take_received();

    let applied = actuator.apply(&plan, None).await.unwrap();
    let seen: Vec<Seen> = http.take_received().iter().map(Seen::of).collect();
    let requests: Vec<(String, &str, &str)> = seen
        .iter()
        .map(|s| (s.method.to_string(), s.path.as_str(), s.body.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            (
                "GET".into(),
                "/v1/prompts/support-answer/tags/production",
                ""
            ),
            (
                "POST".into(),
                "/v1/prompt_versions/PV2/tags",
                r#"{"name":"production"}"#
            ),
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer phx-sent-key"))
    );
    assert_eq!(
        actuator.verify(&plan).await.unwrap(),
        "GET /v1/prompts/support-answer/tags/production: the tag production is on \
         v2 · 2026-11-29 14:02 (PV2)"
    );

    let undo = applied.undo.unwrap();
    actuator.apply(&undo, None).await.unwrap();
    actuator.verify(&undo).await.unwrap();
    assert_eq!(registry.lock().unwrap().tagged.as_deref(), Some("PV3"));
}

#[tokio::test]
async fn a_500_on_the_tag_post_quotes_phoenix_and_is_sent_once() {
    let (url, http, registry) = serve(Behaviour::FailTagPost).await;
    let actuator = actuator(&url, None, 2_000);
    let plan = actuator.read().await.unwrap();
    assert_eq!((plan.from_id.as_str(), plan.to_id.as_str()), ("PV3", "PV2"));
    assert_eq!(plan.from, "v3 · 2026-11-29 14:03");
    assert_eq!(plan.from_text.as_deref(), Some("system: version 3"));

    let error = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "Phoenix {url}/v1/prompt_versions/PV2/tags answered HTTP 500: database is locked \
             while tagging"
        )
    );
    let posts = tag_posts(&http);
    assert_eq!(posts.len(), 1, "a failed write is never retried");
    assert_eq!(posts[0].body, r#"{"name":"production"}"#);
    assert_eq!(registry.lock().unwrap().tagged.as_deref(), Some("PV3"));
}

#[tokio::test]
async fn a_tag_post_that_changed_nothing_is_caught_by_the_read_back() {
    let (url, http, _) = serve(Behaviour::IgnoreTagPost).await;
    let actuator = actuator(&url, None, 2_000);
    let plan = actuator.read().await.unwrap().choose(1);
    assert_eq!(plan.to, "v1 · 2026-11-29 14:01");

    let answer = actuator.apply(&plan, None).await.unwrap().answer;
    assert_eq!(answer, "POST /v1/prompt_versions/PV1/tags → 204 No Content");
    let error = actuator.verify(&plan).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "read-back disagrees: GET /v1/prompts/support-answer/tags/production says the tag \
         production is on v3 · 2026-11-29 14:03, not v1 · 2026-11-29 14:01"
    );
    assert_eq!(tag_posts(&http).len(), 1);
}

#[tokio::test]
async fn a_refused_key_names_its_variable_and_never_shows_the_key() {
    let (url, _http, _) = serve(Behaviour::EchoAuthorization).await;
    let var = "FLIGHTDECK_TEST_PHOENIX_ROLLBACK_KEY";
    set_key(var, "phx-secret-key-123");
    let actuator = actuator(&url, Some(var), 2_000);
    let error = actuator.read().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "Phoenix {url}/v1/prompts/support-answer/versions: the API key in ${var} was \
             refused (HTTP 401): invalid token: Bearer [redacted]"
        )
    );
    let preview = actuator.preview(&plan_for_preview(), None);
    assert!(
        preview.contains(&format!("Authorization: Bearer <key from ${var}>")),
        "{preview}"
    );
    assert!(!preview.contains("phx-secret-key-123"), "{preview}");
}

/// A plan as `read` would give it, for what needs one without a readable server.
fn plan_for_preview() -> flightdeck::model::MitigationPlan {
    flightdeck::model::MitigationPlan {
        from: "v3".into(),
        from_id: "PV3".into(),
        to: "v2".into(),
        to_id: "PV2".into(),
        ..flightdeck::model::MitigationPlan::new(
            flightdeck::model::MitigationKind::PromptRollback,
            "phoenix",
        )
    }
}

#[tokio::test]
async fn a_phoenix_that_never_answers_times_out_after_the_configured_time() {
    let url = fake_server::silent().await;
    let actuator = actuator(&url, None, 300);
    let started = Instant::now();
    let error = actuator.read().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("Phoenix {url}/v1/prompts/support-answer/versions did not answer within 300 ms")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let error = actuator
        .apply(&plan_for_preview(), None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "Phoenix {url}/v1/prompts/support-answer/tags/production did not answer within \
             300 ms"
        )
    );
}

#[tokio::test]
async fn a_phoenix_that_is_down_is_a_refused_connection_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let actuator = actuator(&url, None, 2_000);
    let error = actuator.read().await.unwrap_err();
    assert!(matches!(error, ActuatorError::Unreachable(_)), "{error:?}");
    let error = error.to_string();
    assert!(
        error.starts_with(&format!(
            "Phoenix {url}/v1/prompts/support-answer/versions: connection failed: "
        )) && error.contains("refused"),
        "{error}"
    );
    let error = actuator
        .verify(&plan_for_preview())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused"), "{error}");
}

#[test]
fn a_missing_key_names_the_section_and_the_variable() {
    let registry = PhoenixRegistryConfig {
        url: "http://127.0.0.1:6006".into(),
        api_key_env: Some("FLIGHTDECK_TEST_PHOENIX_ROLLBACK_UNSET".into()),
    };
    let rollback = PromptRollbackConfig::Phoenix {
        prompt: PROMPT.into(),
        tag: "production".into(),
        production: None,
    };
    let Err(error) = PromptTag::from_config(&registry, &rollback, 1_000) else {
        panic!("a missing key must be refused");
    };
    assert_eq!(
        error.to_string(),
        "[actuators.phoenix] api_key_env names FLIGHTDECK_TEST_PHOENIX_ROLLBACK_UNSET, but \
         FLIGHTDECK_TEST_PHOENIX_ROLLBACK_UNSET is unset or empty; export the key in \
         FLIGHTDECK_TEST_PHOENIX_ROLLBACK_UNSET or remove api_key_env"
    );
    let langfuse = PromptRollbackConfig::Langfuse {
        prompt: PROMPT.into(),
        label: "production".into(),
        production: None,
    };
    let Err(error) = PromptTag::from_config(&registry, &langfuse, 1_000) else {
        panic!("a Langfuse rollback is not Phoenix's");
    };
    assert!(
        error
            .to_string()
            .starts_with("[mitigations.prompt_rollback]"),
        "{error}"
    );
}
