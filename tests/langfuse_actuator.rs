//! The Langfuse prompt rollback against a local server that keeps a prompt's versions and labels
//! in memory and answers the public API's prompt endpoints as Langfuse does (a PATCH with
//! `newLabels` moves the label), recording every request. Langfuse itself cannot run here: it
//! needs ClickHouse.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use flightdeck::actuators::langfuse::PromptLabel;
use flightdeck::actuators::{Actuator, ActuatorError};
use flightdeck::config::actuators::{LangfuseConfig, PromptRollbackConfig};
use flightdeck::model::{MitigationKind, MitigationPlan};
use serde_json::{Value, json};
use support::fake_server::{self, FakeServer, Received};

/// A name with a slash, which the path must carry escaped.
const PROMPT: &str = "team/support-answer";
const ESCAPED: &str = "team%2Fsupport-answer";
const PUBLIC_KEY: &str = "pk-lf-1234";
const SECRET_KEY: &str = "sk-lf-secret-5678";

/// What the server does besides being Langfuse.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Langfuse,
    /// Answers the PATCH 500 and changes nothing, as Langfuse's handler does on a database error.
    FailPatch,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: Method,
    /// As sent, escapes and all.
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    body: Option<Value>,
}

struct StoredVersion {
    version: u64,
    system: String,
    labels: Vec<String>,
}

impl Seen {
    fn of(request: &Received) -> Self {
        Self {
            method: request.method.clone(),
            path: request.path().to_owned(),
            query: request.uri.query().map(str::to_owned),
            authorization: request.authorization().map(str::to_owned),
            body: serde_json::from_slice(&request.body).ok(),
        }
    }
}

struct Store {
    /// Oldest first.
    versions: Vec<StoredVersion>,
}

impl Store {
    fn labelled(&self, label: &str) -> Option<u64> {
        self.versions
            .iter()
            .find(|v| v.labels.iter().any(|l| l == label))
            .map(|v| v.version)
    }

    /// Langfuse's `updatePrompt`: the new labels join the version's own and leave every other.
    fn add_labels(&mut self, version: u64, labels: &[String]) {
        for stored in &mut self.versions {
            if stored.version == version {
                for label in labels {
                    if !stored.labels.contains(label) {
                        stored.labels.push(label.clone());
                    }
                }
            } else {
                stored.labels.retain(|l| !labels.contains(l));
            }
        }
    }
}

#[derive(Clone)]
struct Server {
    behaviour: Behaviour,
    store: Arc<Mutex<Store>>,
}

fn basic(public: &str, secret: &str) -> String {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{public}:{secret}"));
    format!("Basic {credentials}")
}

/// A version as `GET /api/public/v2/prompts/{name}` answers it.
fn prompt_json(stored: &StoredVersion) -> Value {
    json!({
        "id": format!("prompt-{}", stored.version),
        "name": PROMPT,
        "version": stored.version,
        "type": "chat",
        "prompt": [
            {"role": "system", "content": stored.system},
            {"role": "user", "content": "{{question}}"}
        ],
        "config": {},
        "labels": stored.labels,
        "tags": [],
        "commitMessage": null,
        "createdAt": format!("2026-11-29T14:0{}:00.000Z", stored.version),
        "updatedAt": "2026-11-29T15:00:00.000Z",
        "resolutionGraph": null
    })
}

fn not_found(message: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "LangfuseNotFoundError", "message": message})),
    )
        .into_response()
}

fn query_pair(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_owned())
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
    let mut store = server.store.lock().unwrap();
    if authorization.as_deref() != Some(basic(PUBLIC_KEY, SECRET_KEY).as_str()) {
        // As a careless gateway might: the credentials it refused, encoded and decoded.
        let sent = authorization.unwrap_or_default();
        let decoded = sent
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": format!("Invalid credentials {sent} ({decoded})")})),
        )
            .into_response();
    }
    let query = uri.query();
    let rest = uri.path().strip_prefix("/api/public/v2/prompts");
    match (method.as_str(), rest) {
        ("GET", Some("")) => {
            let data: Vec<Value> = (query_pair(query, "name").as_deref() == Some(ESCAPED)
                && !store.versions.is_empty())
            .then(|| {
                json!({
                    "name": PROMPT,
                    "type": "chat",
                    "versions": store.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                    "labels": [],
                    "tags": [],
                    "lastUpdatedAt": "2026-11-29T15:00:00.000Z",
                    "lastConfig": {}
                })
            })
            .into_iter()
            .collect();
            let total = data.len();
            axum::Json(json!({
                "data": data,
                "meta": {"page": 1, "limit": 50, "totalItems": total, "totalPages": total}
            }))
            .into_response()
        }
        ("GET", Some(rest)) if rest.strip_prefix('/') == Some(ESCAPED) => {
            let version = match (query_pair(query, "label"), query_pair(query, "version")) {
                (Some(label), None) => store.labelled(&label),
                (None, Some(version)) => version.parse().ok(),
                _ => None,
            };
            match store.versions.iter().find(|v| Some(v.version) == version) {
                Some(stored) => axum::Json(prompt_json(stored)).into_response(),
                None => not_found(format!("Prompt not found: '{PROMPT}' ({query:?})")),
            }
        }
        ("PATCH", Some(rest)) => {
            let Some(version) = rest
                .strip_prefix(&format!("/{ESCAPED}/versions/"))
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| store.versions.iter().any(|s| s.version == *v))
            else {
                return not_found(format!("Prompt not found: {PROMPT}"));
            };
            if server.behaviour == Behaviour::FailPatch {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"message": "Internal server error"})),
                )
                    .into_response();
            }
            let request: Value = serde_json::from_slice(&body).unwrap();
            let labels: Vec<String> = serde_json::from_value(request["newLabels"].clone()).unwrap();
            store.add_labels(version, &labels);
            let stored = store
                .versions
                .iter()
                .find(|v| v.version == version)
                .unwrap();
            axum::Json(prompt_json(stored)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// A Langfuse holding `versions` versions of the prompt, `production` on `labelled`: its url, the
/// server, which records every request, and its store.
async fn serve(
    behaviour: Behaviour,
    versions: u64,
    labelled: u64,
) -> (String, FakeServer, Arc<Mutex<Store>>) {
    let store = Arc::new(Mutex::new(Store {
        versions: (1..=versions)
            .map(|version| StoredVersion {
                version,
                system: format!("Answer in style {version}."),
                labels: if version == labelled {
                    vec!["production".into()]
                } else {
                    Vec::new()
                },
            })
            .collect(),
    }));
    let server = Server {
        behaviour,
        store: Arc::clone(&store),
    };
    let http = FakeServer::start(Router::new().fallback(handle).with_state(server)).await;
    (http.url.clone(), http, store)
}

/// Sets a variable only this test binary reads.
fn set_var(var: &str, value: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, value) };
}

/// An actuator whose keys are `public` and `secret`, in variables named after `test`.
fn actuator_with_keys(
    url: &str,
    test: &str,
    public: &str,
    secret: &str,
    timeout_ms: u64,
) -> PromptLabel {
    let public_key_env = format!("FLIGHTDECK_TEST_LANGFUSE_PK_{test}");
    let secret_key_env = format!("FLIGHTDECK_TEST_LANGFUSE_SK_{test}");
    set_var(&public_key_env, public);
    set_var(&secret_key_env, secret);
    let config = LangfuseConfig {
        url: url.into(),
        public_key_env,
        secret_key_env,
    };
    let rollback = PromptRollbackConfig::Langfuse {
        prompt: PROMPT.into(),
        label: "production".into(),
        production: None,
    };
    PromptLabel::from_config(&config, &rollback, timeout_ms).unwrap()
}

fn actuator(url: &str, test: &str) -> PromptLabel {
    actuator_with_keys(url, test, PUBLIC_KEY, SECRET_KEY, 2_000)
}

fn get(path: &str, query: &str) -> Seen {
    Seen {
        method: Method::GET,
        path: path.into(),
        query: Some(query.into()),
        authorization: Some(basic(PUBLIC_KEY, SECRET_KEY)),
        body: None,
    }
}

fn prompt_path() -> String {
    format!("/api/public/v2/prompts/{ESCAPED}")
}

fn patch(version: u64) -> Seen {
    Seen {
        method: Method::PATCH,
        path: format!("{}/versions/{version}", prompt_path()),
        query: None,
        authorization: Some(basic(PUBLIC_KEY, SECRET_KEY)),
        body: Some(json!({"newLabels": ["production"]})),
    }
}

fn take_seen(http: &FakeServer) -> Vec<Seen> {
    http.take_received().iter().map(Seen::of).collect()
}

fn labelled(store: &Mutex<Store>) -> Option<u64> {
    store.lock().unwrap().labelled("production")
}

fn text(version: u64) -> String {
    format!("system: Answer in style {version}.\n\nuser: {{{{question}}}}")
}

#[tokio::test]
async fn reads_the_labelled_version_and_offers_every_other_with_its_text_and_date() {
    let (url, http, _) = serve(Behaviour::Langfuse, 3, 3).await;
    let actuator = actuator(&url, "READ");
    assert_eq!(actuator.kind(), MitigationKind::PromptRollback);

    let plan = actuator.read().await.unwrap();
    assert_eq!(
        take_seen(&http),
        [
            get("/api/public/v2/prompts", &format!("name={ESCAPED}")),
            get(&prompt_path(), "label=production"),
            get(&prompt_path(), "version=2"),
            get(&prompt_path(), "version=1"),
        ]
    );
    assert_eq!(plan.backend, "langfuse");
    assert_eq!(plan.target, "prompt team/support-answer, label production");
    assert_eq!(
        (plan.from.as_str(), plan.from_id.as_str()),
        ("v3 · 2026-11-29 14:03", "3")
    );
    assert_eq!(
        (plan.to.as_str(), plan.to_id.as_str()),
        ("v2 · 2026-11-29 14:02", "2")
    );
    assert_eq!(plan.from_text, Some(text(3)));
    assert_eq!(
        plan.operation,
        format!(
            "PATCH {}/versions/2 {{\"newLabels\":[\"production\"]}}",
            prompt_path()
        )
    );
    assert_eq!(plan.confirm_name.as_deref(), Some(PROMPT));
    assert_eq!(plan.unavailable, None);
    let choices: Vec<(&str, &str, Option<String>)> = plan
        .choices
        .iter()
        .map(|c| (c.label.as_str(), c.id.as_str(), c.text.clone()))
        .collect();
    assert_eq!(
        choices,
        [
            ("v2 · 2026-11-29 14:02", "2", Some(text(2))),
            ("v1 · 2026-11-29 14:01", "1", Some(text(1))),
        ]
    );
    assert_eq!(
        plan.choices[1].created_at.unwrap().to_rfc3339(),
        "2026-11-29T14:01:00+00:00"
    );
    assert_eq!(
        actuator.preview(&plan, None),
        format!(
            "PATCH {url}{}/versions/2\nContent-Type: application/json\nAuthorization: Basic \
             <base64 of $FLIGHTDECK_TEST_LANGFUSE_PK_READ:$FLIGHTDECK_TEST_LANGFUSE_SK_READ>\n\
             {{\"newLabels\":[\"production\"]}}",
            prompt_path()
        )
    );
}

#[tokio::test]
async fn moves_the_label_back_reads_it_back_and_the_undo_moves_it_forward() {
    let (url, http, store) = serve(Behaviour::Langfuse, 3, 3).await;
    let actuator = actuator(&url, "APPLY");
    let plan = actuator.read().await.unwrap().choose(1);
    assert_eq!(plan.to, "v1 · 2026-11-29 14:01");
    take_seen(&http);

    let applied = actuator.apply(&plan, None).await.unwrap();
    assert_eq!(
        applied.answer,
        format!("PATCH {}/versions/1 → 200 OK", prompt_path())
    );
    assert_eq!(
        take_seen(&http),
        [get(&prompt_path(), "label=production"), patch(1)]
    );
    assert_eq!(labelled(&store), Some(1));
    assert_eq!(
        actuator.verify(&plan).await.unwrap(),
        format!(
            "GET {}?label=production: the label production is on v1 · 2026-11-29 14:01",
            prompt_path()
        )
    );

    let undo = applied.undo.unwrap();
    assert!(undo.undo);
    assert_eq!((undo.from_id.as_str(), undo.to_id.as_str()), ("1", "3"));
    assert_eq!(undo.from_text, Some(text(1)));
    assert_eq!(
        undo.operation,
        format!(
            "PATCH {}/versions/3 {{\"newLabels\":[\"production\"]}}",
            prompt_path()
        )
    );
    take_seen(&http);
    actuator.apply(&undo, None).await.unwrap();
    assert_eq!(
        take_seen(&http),
        [get(&prompt_path(), "label=production"), patch(3)]
    );
    actuator.verify(&undo).await.unwrap();
    assert_eq!(labelled(&store), Some(3));
}

#[tokio::test]
async fn a_label_moved_behind_our_back_is_refused_and_nothing_is_sent() {
    let (url, http, store) = serve(Behaviour::Langfuse, 3, 3).await;
    let actuator = actuator(&url, "MOVED");
    let plan = actuator.read().await.unwrap();
    store
        .lock()
        .unwrap()
        .add_labels(1, &["production".to_string()]);
    take_seen(&http);

    let refusal = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert_eq!(
        refusal,
        "the state moved since it was confirmed: now v1 · 2026-11-29 14:01; nothing was changed"
    );
    assert_eq!(take_seen(&http), [get(&prompt_path(), "label=production")]);
    assert_eq!(labelled(&store), Some(1));
    assert_eq!(
        actuator.verify(&plan).await.unwrap_err().to_string(),
        format!(
            "read-back disagrees: GET {}?label=production says the label production is on \
             v1 · 2026-11-29 14:01, not v2 · 2026-11-29 14:02",
            prompt_path()
        )
    );

    store.lock().unwrap().versions[0].labels.clear();
    let refusal = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert_eq!(
        refusal,
        "the state moved since it was confirmed: now no version carries the label production; \
         nothing was changed"
    );
}

#[tokio::test]
async fn refused_keys_name_their_variables_and_never_show_the_secret() {
    let (url, http, _) = serve(Behaviour::Langfuse, 3, 3).await;
    let wrong_secret = "sk-lf-wrong-9999";
    let actuator = actuator_with_keys(&url, "REFUSED", PUBLIC_KEY, wrong_secret, 2_000);
    let error = actuator.read().await.unwrap_err().to_string();
    let sent = basic(PUBLIC_KEY, wrong_secret);
    assert_eq!(
        http.received()[0].authorization(),
        Some(sent.as_str()),
        "the server did see the credentials"
    );
    assert_eq!(
        error,
        format!(
            "Langfuse {url}/api/public/v2/prompts?name={ESCAPED}: the keys in \
             $FLIGHTDECK_TEST_LANGFUSE_PK_REFUSED and $FLIGHTDECK_TEST_LANGFUSE_SK_REFUSED were \
             refused (HTTP 401): {{\"message\":\"Invalid credentials Basic [redacted] \
             ({PUBLIC_KEY}:[redacted])\"}}"
        )
    );
    let credentials = sent.trim_start_matches("Basic ");
    assert!(
        !error.contains(wrong_secret) && !error.contains(credentials),
        "{error}"
    );
}

#[tokio::test]
async fn a_500_on_the_patch_quotes_langfuse_and_is_sent_once() {
    let (url, http, store) = serve(Behaviour::FailPatch, 3, 3).await;
    let actuator = actuator(&url, "FAIL");
    let plan = actuator.read().await.unwrap();
    take_seen(&http);

    let error = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "Langfuse {url}{}/versions/2 answered HTTP 500: {{\"message\":\"Internal server \
             error\"}}",
            prompt_path()
        )
    );
    assert_eq!(
        take_seen(&http),
        [get(&prompt_path(), "label=production"), patch(2)],
        "a failed write is never retried"
    );
    assert_eq!(labelled(&store), Some(3));
}

#[tokio::test]
async fn a_langfuse_that_never_answers_times_out_after_the_configured_time() {
    let url = fake_server::silent().await;
    let actuator = actuator_with_keys(&url, "SLOW", PUBLIC_KEY, SECRET_KEY, 300);
    let started = Instant::now();
    let error = actuator.read().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("Langfuse {url}/api/public/v2/prompts?name={ESCAPED} did not answer within 300 ms")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_langfuse_that_is_down_is_a_refused_connection_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let actuator = actuator(&url, "DOWN");
    let error = actuator.read().await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "Langfuse {url}/api/public/v2/prompts?name={ESCAPED}: connection failed: "
        )) && error.contains("refused"),
        "{error}"
    );
    let plan = MitigationPlan {
        from_id: "3".into(),
        to_id: "2".into(),
        ..MitigationPlan::new(MitigationKind::PromptRollback, "langfuse")
    };
    let error = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert!(error.contains("refused"), "{error}");
}

#[tokio::test]
async fn an_unknown_prompt_an_unlabelled_one_and_a_single_version_are_unavailable_saying_why() {
    let (url, _http, _) = serve(Behaviour::Langfuse, 0, 0).await;
    let plan = actuator(&url, "NONE").read().await.unwrap();
    assert_eq!(
        plan.unavailable.as_deref(),
        Some("Langfuse has no prompt \"team/support-answer\"")
    );
    assert_eq!(plan.target, "prompt team/support-answer, label production");

    let (url, _http, _) = serve(Behaviour::Langfuse, 2, 0).await;
    let plan = actuator(&url, "UNLABELLED").read().await.unwrap();
    assert_eq!(
        plan.unavailable.as_deref(),
        Some("no version of team/support-answer carries the label production")
    );

    let (url, http, _) = serve(Behaviour::Langfuse, 1, 1).await;
    let actuator = actuator(&url, "SINGLE");
    let plan = actuator.read().await.unwrap();
    assert_eq!(
        plan.unavailable.as_deref(),
        Some(
            "team/support-answer has only v1 · 2026-11-29 14:01: there is no other version to \
             move the label production to"
        )
    );
    take_seen(&http);
    assert_eq!(
        actuator.apply(&plan, None).await.unwrap_err(),
        ActuatorError::Unavailable(plan.unavailable.clone().unwrap())
    );
    assert!(take_seen(&http).is_empty());
}

#[test]
fn a_missing_key_names_the_section_and_the_variable() {
    set_var("FLIGHTDECK_TEST_LANGFUSE_PK_MISSING", PUBLIC_KEY);
    let config = LangfuseConfig {
        url: "http://127.0.0.1:3000".into(),
        public_key_env: "FLIGHTDECK_TEST_LANGFUSE_PK_MISSING".into(),
        secret_key_env: "FLIGHTDECK_TEST_LANGFUSE_SK_MISSING".into(),
    };
    let rollback = PromptRollbackConfig::Langfuse {
        prompt: PROMPT.into(),
        label: "production".into(),
        production: None,
    };
    let Err(error) = PromptLabel::from_config(&config, &rollback, 1_000) else {
        panic!("a missing secret key must be refused");
    };
    assert_eq!(
        error.to_string(),
        "[actuators.langfuse] secret_key_env names FLIGHTDECK_TEST_LANGFUSE_SK_MISSING, but \
         FLIGHTDECK_TEST_LANGFUSE_SK_MISSING is unset or empty; export the secret key in \
         FLIGHTDECK_TEST_LANGFUSE_SK_MISSING"
    );
}
