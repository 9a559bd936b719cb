//! The Unleash actuators' failures, against a local server that plays the parts a real Unleash
//! will not: down, stopped between the read and the write, silent, failing with a page of text,
//! accepting a change it then does not show, echoing the token, or holding a flag that is on with
//! no strategy (which Unleash 8.2 itself never allows). The real API is tested in
//! tests/backend_unleash.rs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONNECTION};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use flightdeck::actuators::unleash::{KillSwitch, ModelPin};
use flightdeck::actuators::{Actuator, ActuatorError};
use flightdeck::config::actuators::{KillSwitchConfig, ModelPinConfig, UnleashConfig};
use serde_json::{Value, json};
use support::fake_server::FakeServer;

const FEATURE: &str = "/api/admin/projects/default/features/support-ai";
const ENVIRONMENT: &str = "/api/admin/projects/default/features/support-ai/environments/production";

/// What the fake server does with a request.
#[derive(Clone)]
enum Behaviour {
    /// Reads and writes as Unleash would.
    Faithful,
    /// Answers reads; never answers a write.
    SilentOnWrites,
    /// Answers every request only after this long.
    Silent(Duration),
    /// Answers every write with a 500 and this body.
    FailWrites(String),
    /// Answers a write 200 but keeps the old state.
    IgnoreWrites,
    /// Answers 401 quoting the Authorization header, as a careless gateway might.
    EchoAuthorization,
}

/// The flag support-ai in production, as the fake server holds it.
struct Flag {
    enabled: bool,
    strategies: Vec<Value>,
}

#[derive(Clone)]
struct Fake {
    behaviour: Behaviour,
    flag: Arc<Mutex<Flag>>,
}

/// Every answer closes its connection, so a stopped server refuses the next request instead of
/// a pooled connection carrying it.
fn answer(status: StatusCode, body: String) -> Response {
    (status, [(CONNECTION, "close")], body).into_response()
}

/// Plays the behaviour: Some is the answer instead of the real one.
async fn before(fake: &Fake, headers: &HeaderMap, write: bool) -> Option<Response> {
    match &fake.behaviour {
        Behaviour::Silent(pause) => tokio::time::sleep(*pause).await,
        Behaviour::SilentOnWrites if write => tokio::time::sleep(Duration::from_secs(30)).await,
        Behaviour::FailWrites(body) if write => {
            return Some(answer(StatusCode::INTERNAL_SERVER_ERROR, body.clone()));
        }
        Behaviour::IgnoreWrites if write => return Some(answer(StatusCode::OK, "{}".into())),
        Behaviour::EchoAuthorization => {
            let token = headers.get(AUTHORIZATION).unwrap().to_str().unwrap();
            return Some(answer(
                StatusCode::UNAUTHORIZED,
                format!("no access for {token}"),
            ));
        }
        _ => {}
    }
    None
}

async fn feature(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if let Some(response) = before(&fake, &headers, false).await {
        return response;
    }
    let flag = fake.flag.lock().unwrap();
    let body = json!({
        "name": "support-ai",
        "environments": [
            {"name": "development", "enabled": false, "strategies": []},
            {"name": "production", "enabled": flag.enabled, "strategies": flag.strategies},
        ],
    });
    answer(StatusCode::OK, body.to_string())
}

async fn switch(State(fake): State<Fake>, Path(to): Path<String>, headers: HeaderMap) -> Response {
    if let Some(response) = before(&fake, &headers, true).await {
        return response;
    }
    fake.flag.lock().unwrap().enabled = to == "on";
    answer(StatusCode::OK, String::new())
}

async fn add_strategy(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    if let Some(response) = before(&fake, &headers, true).await {
        return response;
    }
    let mut strategy: Value = serde_json::from_str(&body).unwrap();
    strategy["id"] = json!("added-1");
    strategy["sortOrder"] = json!(0);
    fake.flag.lock().unwrap().strategies.push(strategy.clone());
    answer(StatusCode::OK, strategy.to_string())
}

async fn update_strategy(
    State(fake): State<Fake>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(response) = before(&fake, &headers, true).await {
        return response;
    }
    let update: Value = serde_json::from_str(&body).unwrap();
    let mut flag = fake.flag.lock().unwrap();
    let strategy = flag.strategies.iter_mut().find(|s| s["id"] == id).unwrap();
    *strategy = update;
    answer(StatusCode::OK, strategy.to_string())
}

/// A running fake Unleash: its base url, the flag it holds, and the server, which records every
/// request.
struct Server {
    url: String,
    flag: Arc<Mutex<Flag>>,
    http: FakeServer,
}

impl Server {
    async fn start(behaviour: Behaviour, enabled: bool, strategies: Vec<Value>) -> Self {
        let flag = Arc::new(Mutex::new(Flag {
            enabled,
            strategies,
        }));
        let fake = Fake {
            behaviour,
            flag: Arc::clone(&flag),
        };
        let routes = Router::new()
            .route(FEATURE, get(feature))
            .route(&format!("{ENVIRONMENT}/strategies"), post(add_strategy))
            .route(
                &format!("{ENVIRONMENT}/strategies/{{id}}"),
                put(update_strategy),
            )
            .route(&format!("{ENVIRONMENT}/{{to}}"), post(switch))
            .with_state(fake);
        let http = FakeServer::start(routes).await;
        Self {
            url: http.url.clone(),
            flag,
            http,
        }
    }

    /// Requests that change the flag: every one but a read.
    fn writes(&self) -> usize {
        let received = self.http.received();
        received.iter().filter(|r| r.method != Method::GET).count()
    }

    async fn stop(&mut self) {
        self.http.stop().await;
    }
}

/// Sets a variable only this test binary reads.
fn set_token(var: &str, token: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals, so no name resolution), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, token) };
}

const TOKEN_VAR: &str = "FLIGHTDECK_TEST_FAKE_UNLEASH_TOKEN";
const TOKEN: &str = "*:*.fake-admin-secret-1234";

fn unleash(url: &str) -> UnleashConfig {
    set_token(TOKEN_VAR, TOKEN);
    UnleashConfig {
        url: url.into(),
        token_env: TOKEN_VAR.into(),
        project: "default".into(),
        environment: "production".into(),
    }
}

fn kill_switch(url: &str, timeout_ms: u64) -> KillSwitch {
    let config = KillSwitchConfig::Unleash {
        flag: "support-ai".into(),
        production: None,
    };
    KillSwitch::from_config(&unleash(url), &config, timeout_ms).unwrap()
}

fn model_pin(url: &str) -> ModelPin {
    let config = ModelPinConfig::Unleash {
        flag: "support-ai".into(),
        model: "gpt-4o-2024-08-06".into(),
        payload_key: "model".into(),
        variant: "pinned".into(),
        production: Some(false),
    };
    ModelPin::from_config(&unleash(url), &config, 2_000).unwrap()
}

fn default_strategy() -> Value {
    json!({
        "id": "strategy-1",
        "name": "flexibleRollout",
        "constraints": [],
        "parameters": {"groupId": "support-ai", "rollout": "100", "stickiness": "default"},
        "variants": [],
        "segments": [],
        "sortOrder": 0,
        "disabled": false,
    })
}

#[tokio::test]
async fn a_server_nothing_listens_for_is_a_refused_connection_naming_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let error = kill_switch(&url, 2_000).read().await.unwrap_err();

    assert!(matches!(error, ActuatorError::Unreachable(_)), "{error:?}");
    let error = error.to_string();
    let expected = format!("Unleash {url}{FEATURE}: connection failed: ");
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_server_stopped_mid_action_changes_nothing_and_says_so() {
    let mut server = Server::start(Behaviour::Faithful, true, vec![default_strategy()]).await;
    let kill_switch = kill_switch(&server.url, 2_000);
    let plan = kill_switch.read().await.unwrap();
    let url = server.url.clone();
    server.stop().await;

    let error = kill_switch.apply(&plan, None).await.unwrap_err();

    assert!(matches!(error, ActuatorError::Unreachable(_)), "{error:?}");
    let error = error.to_string();
    let expected = format!(
        "could not re-read the flag before changing it: Unleash {url}{FEATURE}: connection failed: "
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.ends_with("; nothing was changed"), "{error}");
}

#[tokio::test]
async fn a_server_stopped_between_the_write_and_the_read_back_fails_the_read_back_once() {
    let mut server = Server::start(Behaviour::Faithful, true, vec![default_strategy()]).await;
    let kill_switch = kill_switch(&server.url, 2_000);
    let plan = kill_switch.read().await.unwrap();
    kill_switch.apply(&plan, None).await.unwrap();
    let url = server.url.clone();
    server.stop().await;

    let error = kill_switch.verify(&plan).await.unwrap_err().to_string();

    assert!(
        error.starts_with(&format!("Unleash {url}{FEATURE}: connection failed: ")),
        "{error}"
    );
    assert_eq!(server.writes(), 1, "the write is not sent again");
    assert!(
        !server.flag.lock().unwrap().enabled,
        "the write took before the server stopped"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_configured_limit() {
    let server = Server::start(
        Behaviour::Silent(Duration::from_secs(30)),
        true,
        vec![default_strategy()],
    )
    .await;

    let started = Instant::now();
    let error = kill_switch(&server.url, 300).read().await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        error.to_string(),
        format!(
            "Unleash {}{FEATURE} did not answer within 300 ms",
            server.url
        )
    );
}

#[tokio::test]
async fn a_write_that_gets_no_answer_may_have_happened_and_says_so() {
    let server = Server::start(Behaviour::SilentOnWrites, true, vec![default_strategy()]).await;
    let kill_switch = kill_switch(&server.url, 300);
    let plan = kill_switch.read().await.unwrap();

    let error = kill_switch.apply(&plan, None).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        format!(
            "Unleash {}{ENVIRONMENT}/off did not answer within 300 ms; the change may or may not \
             have been made: read the flag before trying again",
            server.url
        )
    );
    assert_eq!(server.writes(), 1, "sent once, never retried");
}

#[tokio::test]
async fn a_failing_write_quotes_a_short_excerpt_of_the_body_and_is_not_retried() {
    let body = format!("database is locked {}", "x".repeat(5_000));
    let server = Server::start(Behaviour::FailWrites(body), true, vec![default_strategy()]).await;
    let kill_switch = kill_switch(&server.url, 2_000);
    let plan = kill_switch.read().await.unwrap();

    let error = kill_switch.apply(&plan, None).await.unwrap_err();

    assert!(matches!(error, ActuatorError::Refused(_)), "{error:?}");
    let error = error.to_string();
    let expected = format!(
        "Unleash {}{ENVIRONMENT}/off answered HTTP 500 Internal Server Error: \"database is \
         locked xxx",
        server.url
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.ends_with("xxx…\""), "{error}");
    assert!(error.len() < 400, "{} chars: {error}", error.len());
    assert_eq!(server.writes(), 1);
}

#[tokio::test]
async fn a_read_back_that_still_shows_the_old_state_disagrees() {
    let server = Server::start(Behaviour::IgnoreWrites, true, vec![default_strategy()]).await;
    let kill_switch = kill_switch(&server.url, 2_000);
    let plan = kill_switch.read().await.unwrap();

    let answer = kill_switch.apply(&plan, None).await.unwrap().answer;
    let error = kill_switch.verify(&plan).await.unwrap_err();

    assert_eq!(answer, format!("POST {ENVIRONMENT}/off → 200 OK"));
    assert!(
        matches!(error, ActuatorError::ReadBackDisagrees { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("read-back disagrees: GET {FEATURE} says support-ai is on in production, not off")
    );

    let pin = model_pin(&server.url);
    let plan = pin.read().await.unwrap();
    pin.apply(&plan, None).await.unwrap();
    let error = pin.verify(&plan).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "read-back disagrees: GET {FEATURE}: strategy strategy-1 serves floating (no pin), \
             not gpt-4o-2024-08-06"
        )
    );
}

#[tokio::test]
async fn a_token_the_server_echoes_is_named_by_its_variable_and_never_shown() {
    let server = Server::start(Behaviour::EchoAuthorization, true, Vec::new()).await;

    let error = kill_switch(&server.url, 2_000).read().await.unwrap_err();

    assert!(matches!(error, ActuatorError::Refused(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "Unleash {}{FEATURE} refused the token in ${TOKEN_VAR} (401): \"no access for \
             [redacted]\"",
            server.url
        )
    );
}

#[tokio::test]
async fn a_missing_token_names_the_section_and_the_variable() {
    let config = UnleashConfig {
        token_env: "FLIGHTDECK_TEST_UNLEASH_TOKEN_NEVER_SET".into(),
        ..unleash("http://127.0.0.1:9")
    };
    let kill_switch = KillSwitchConfig::Unleash {
        flag: "support-ai".into(),
        production: None,
    };

    let error = KillSwitch::from_config(&config, &kill_switch, 1_000)
        .err()
        .unwrap();

    assert_eq!(
        error.to_string(),
        "[actuators.unleash] token_env names FLIGHTDECK_TEST_UNLEASH_TOKEN_NEVER_SET, but \
         FLIGHTDECK_TEST_UNLEASH_TOKEN_NEVER_SET is unset or empty; export an Unleash admin API \
         token in FLIGHTDECK_TEST_UNLEASH_TOKEN_NEVER_SET"
    );
}

#[tokio::test]
async fn a_flag_on_with_no_strategy_gets_one_carrying_the_pin_and_the_undo_empties_it() {
    let server = Server::start(Behaviour::Faithful, true, Vec::new()).await;
    let pin = model_pin(&server.url);

    let plan = pin.read().await.unwrap();
    assert_eq!(plan.operation, format!("POST {ENVIRONMENT}/strategies"));
    assert_eq!(plan.from, "floating (no pin)");
    assert_eq!(plan.confirm_name, None, "production = false in the config");
    let preview = pin.preview(&plan, None);
    assert!(
        preview.starts_with(&format!(
            "POST {}{ENVIRONMENT}/strategies\nAuthorization: <token from ${TOKEN_VAR}>\n",
            server.url
        )),
        "{preview}"
    );
    assert!(preview.contains(r#""groupId": "support-ai""#), "{preview}");

    let applied = pin.apply(&plan, None).await.unwrap();
    assert_eq!(
        applied.answer,
        format!("POST {ENVIRONMENT}/strategies → 200 OK")
    );
    pin.verify(&plan).await.unwrap();
    let added = server.flag.lock().unwrap().strategies[0].clone();
    assert_eq!(added["name"], "flexibleRollout");
    assert_eq!(added["parameters"]["rollout"], "100");
    assert_eq!(
        added["variants"][0]["payload"],
        json!({"type": "json", "value": r#"{"model":"gpt-4o-2024-08-06"}"#})
    );

    let undo = applied.undo.unwrap();
    assert_eq!(
        undo.operation,
        format!("PUT {ENVIRONMENT}/strategies/added-1")
    );
    assert!(
        pin.preview(&undo, None).starts_with(&format!(
            "PUT {}{ENVIRONMENT}/strategies/added-1\n",
            server.url
        )),
        "the undo carries the strategy as written"
    );
    pin.apply(&undo, None).await.unwrap();
    pin.verify(&undo).await.unwrap();
    assert_eq!(
        server.flag.lock().unwrap().strategies[0]["variants"],
        json!([])
    );
}

#[tokio::test]
async fn a_preview_shows_the_strategy_its_own_plan_was_read_from_not_the_last_read() {
    let server = Server::start(Behaviour::Faithful, true, vec![default_strategy()]).await;
    let pin = model_pin(&server.url);
    let confirmed = pin.read().await.unwrap();
    server.flag.lock().unwrap().strategies[0]["constraints"] =
        json!([{"contextName": "appName", "operator": "IN", "values": ["support"]}]);

    let newer = pin.read().await.unwrap();

    assert!(pin.preview(&newer, None).contains("appName"));
    let preview = pin.preview(&confirmed, None);
    assert!(
        preview.starts_with(&format!(
            "PUT {}{ENVIRONMENT}/strategies/strategy-1\n",
            server.url
        )),
        "{preview}"
    );
    assert!(!preview.contains("appName"), "{preview}");
}
