//! The embeddings client against a real local HTTP server that records what it is sent.

mod support;

use std::time::{Duration, Instant};

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use flightdeck::enrichment::embeddings::{EmbeddingClient, EmbeddingError, EndpointConfig};
use flightdeck::http::HttpError;
use flightdeck::model::Call;
use serde_json::{Value, json};
use support::fake_server::{FakeServer, Received};

/// What the test server does with each request.
#[derive(Clone)]
enum Behaviour {
    /// Embeds every input, listing the embeddings in reverse so the client must order them.
    Embed,
    /// Embeds the first `n` requests, then answers 500.
    FailAfter(usize),
    Fixed(StatusCode, String),
    Sleep(Duration),
    /// Answers 401 quoting the Authorization header, as a careless proxy might.
    EchoAuthorization,
}

/// One request as the server saw it.
struct Seen {
    authorization: Option<String>,
    model: String,
    inputs: Vec<String>,
}

/// What the server has been sent, in order.
fn seen(server: &FakeServer) -> Vec<Seen> {
    server
        .received()
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            Seen {
                authorization: request.authorization().map(str::to_owned),
                model: body["model"].as_str().unwrap().to_owned(),
                inputs: serde_json::from_value(body["input"].clone()).unwrap(),
            }
        })
        .collect()
}

/// A vector that identifies its text, so order and pairing can be checked.
fn vector(text: &str) -> Vec<f32> {
    vec![text.len() as f32, text.bytes().map(f32::from).sum()]
}

async fn embeddings(
    State(behaviour): State<Behaviour>,
    Extension(request): Extension<Received>,
    Json(body): Json<Value>,
) -> Response {
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap();
    let embed = || {
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev()
            .map(|(index, text)| json!({"index": index, "embedding": vector(text)}))
            .collect();
        Json(json!({"object": "list", "data": data})).into_response()
    };
    match behaviour {
        Behaviour::Embed => embed(),
        Behaviour::FailAfter(n) if request.index < n => embed(),
        Behaviour::FailAfter(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response()
        }
        Behaviour::Fixed(status, body) => (status, body).into_response(),
        Behaviour::Sleep(pause) => {
            tokio::time::sleep(pause).await;
            embed()
        }
        Behaviour::EchoAuthorization => {
            let authorization = request.authorization().unwrap_or_default();
            let body = format!("invalid credentials: {authorization}");
            (StatusCode::UNAUTHORIZED, body).into_response()
        }
    }
}

/// Starts a server on a free port; returns its base url and the server, which records what it
/// is sent.
async fn serve(behaviour: Behaviour) -> (String, FakeServer) {
    let routes = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(behaviour);
    let server = FakeServer::start(routes).await;
    (format!("{}/v1", server.url), server)
}

fn config(url: &str, batch_size: usize) -> EndpointConfig {
    EndpointConfig {
        url: url.to_owned(),
        model: "text-embedding-3-small".to_owned(),
        api_key_env: None,
        batch_size,
        timeout_ms: 5000,
    }
}

/// Sets a variable only this test reads.
fn set_key(var: &str, key: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals, so no name resolution), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, key) };
}

fn call(input: Option<&str>, output: Option<&str>) -> Call {
    serde_json::from_value(json!({
        "ts": "2026-03-14T14:15:00Z",
        "feature": "support-answer",
        "model_requested": "gpt-4o",
        "status": "ok",
        "latency_ms": 812,
        "input": input,
        "output": output,
    }))
    .unwrap()
}

#[tokio::test]
async fn batches_requests_and_orders_embeddings_by_index() {
    let (url, server) = serve(Behaviour::Embed).await;
    let client = EmbeddingClient::new(config(&url, 2)).unwrap();
    let texts = ["a", "bb", "ccc", "dddd", "eeeee"];

    let embeddings = client.embed(&texts).await.unwrap();

    assert_eq!(embeddings, texts.map(vector));
    let seen = seen(&server);
    let batches: Vec<_> = seen.iter().map(|request| request.inputs.clone()).collect();
    assert_eq!(
        batches,
        [vec!["a", "bb"], vec!["ccc", "dddd"], vec!["eeeee"]]
    );
    assert!(
        seen.iter()
            .all(|request| request.model == "text-embedding-3-small")
    );
}

#[tokio::test]
async fn sends_the_bearer_key_from_the_named_env_var_only_when_one_is_named() {
    let (url, server) = serve(Behaviour::Embed).await;
    set_key("FLIGHTDECK_TEST_EMBEDDINGS_KEY_BEARER", "sk-test-bearer");
    let with_key = EmbeddingClient::new(EndpointConfig {
        api_key_env: Some("FLIGHTDECK_TEST_EMBEDDINGS_KEY_BEARER".to_owned()),
        ..config(&url, 64)
    })
    .unwrap();
    let without_key = EmbeddingClient::new(config(&url, 64)).unwrap();

    with_key.embed(&["hello"]).await.unwrap();
    without_key.embed(&["hello"]).await.unwrap();

    let seen = seen(&server);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer sk-test-bearer")
    );
    assert_eq!(seen[1].authorization, None);
}

#[test]
fn an_unset_key_variable_is_an_error_naming_the_variable() {
    let err = EmbeddingClient::new(EndpointConfig {
        api_key_env: Some("FLIGHTDECK_TEST_EMBEDDINGS_KEY_NEVER_SET".to_owned()),
        ..config("http://127.0.0.1:9/v1", 64)
    })
    .err()
    .unwrap();

    assert!(matches!(err, EmbeddingError::MissingKey { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("FLIGHTDECK_TEST_EMBEDDINGS_KEY_NEVER_SET")
    );
}

#[tokio::test]
async fn enrich_fills_only_missing_embeddings_in_one_request() {
    let (url, server) = serve(Behaviour::Embed).await;
    let client = EmbeddingClient::new(config(&url, 64)).unwrap();
    let mut calls = vec![
        call(Some("question"), Some("answer")),
        call(Some("kept"), Some("reply")),
        call(Some("no output"), None),
        call(Some("  "), Some("after a blank input")),
    ];
    calls[1].input_embedding = Some(vec![9.0, 9.0]);

    let attached = client.enrich(&mut calls).await.unwrap();

    assert_eq!(attached, 5);
    assert_eq!(server.received().len(), 1);
    let embeddings: Vec<_> = calls
        .iter()
        .map(|call| (call.input_embedding.clone(), call.output_embedding.clone()))
        .collect();
    assert_eq!(
        embeddings,
        [
            (Some(vector("question")), Some(vector("answer"))),
            (Some(vec![9.0, 9.0]), Some(vector("reply"))),
            (Some(vector("no output")), None),
            (None, Some(vector("after a blank input"))),
        ]
    );
}

#[tokio::test]
async fn enrich_changes_no_call_when_a_later_batch_fails() {
    let (url, server) = serve(Behaviour::FailAfter(1)).await;
    let client = EmbeddingClient::new(config(&url, 2)).unwrap();
    let mut calls = vec![call(Some("one"), Some("two")), call(Some("three"), None)];
    let before = calls.clone();

    let err = client.enrich(&mut calls).await.unwrap_err();

    assert!(
        matches!(
            err,
            EmbeddingError::Http(HttpError::Status { status: 500, .. })
        ),
        "{err:?}"
    );
    assert_eq!(server.received().len(), 2);
    assert_eq!(calls, before);
}

#[tokio::test]
async fn a_slow_server_times_out_after_the_configured_wait() {
    let (url, _server) = serve(Behaviour::Sleep(Duration::from_secs(10))).await;
    let client = EmbeddingClient::new(EndpointConfig {
        timeout_ms: 200,
        ..config(&url, 64)
    })
    .unwrap();
    let started = Instant::now();

    let err = client.embed(&["hello"]).await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            err,
            EmbeddingError::Http(HttpError::Timeout {
                timeout_ms: 200,
                ..
            })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("200 ms") && message.contains(&url),
        "{message}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error_naming_the_url() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let client = EmbeddingClient::new(config(&url, 64)).unwrap();

    let err = client.embed(&["hello"]).await.unwrap_err();

    assert!(
        matches!(err, EmbeddingError::Http(HttpError::Connection { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn a_server_error_reports_the_status_and_the_start_of_the_body() {
    let body = format!("{}{}", "x".repeat(200), "y".repeat(300));
    let (url, _server) = serve(Behaviour::Fixed(StatusCode::INTERNAL_SERVER_ERROR, body)).await;
    let client = EmbeddingClient::new(config(&url, 64)).unwrap();

    let err = client.embed(&["hello"]).await.unwrap_err();

    assert!(
        matches!(
            err,
            EmbeddingError::Http(HttpError::Status { status: 500, .. })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(
        message.contains(&"x".repeat(200)) && !message.contains('y'),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_embeddings_are_bad_responses_that_say_what_was_wrong() {
    let cases = [
        (
            r#"{"data":[{"index":0,"embedding":[1.0]}]}"#,
            "count mismatch: 2 inputs, 1 embeddings",
        ),
        (
            r#"{"data":[{"embedding":[1.0]},{"index":1,"embedding":[1.0]}]}"#,
            "missing field `index`",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#,
            "index 0 appears twice",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[1.0]},{"index":2,"embedding":[1.0]}]}"#,
            "index 2 is out of range",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[]}]}"#,
            "empty embedding",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0,2.0]}]}"#,
            "mixed lengths",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1e39]}]}"#,
            "number out of range",
        ),
        (
            r#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[NaN]}]}"#,
            "expected value",
        ),
    ];
    for (response, expected) in cases {
        let (url, _server) = serve(Behaviour::Fixed(StatusCode::OK, response.to_owned())).await;
        let client = EmbeddingClient::new(config(&url, 64)).unwrap();

        let err = client.embed(&["one", "two"]).await.unwrap_err();

        assert!(
            matches!(err, EmbeddingError::Http(HttpError::BadResponse { .. })),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(expected),
            "{err} lacks {expected:?}"
        );
    }
}

#[tokio::test]
async fn an_echoed_key_never_reaches_the_error() {
    let (url, _server) = serve(Behaviour::EchoAuthorization).await;
    set_key(
        "FLIGHTDECK_TEST_EMBEDDINGS_KEY_ECHO",
        "sk-test-echoed-secret",
    );
    let client = EmbeddingClient::new(EndpointConfig {
        api_key_env: Some("FLIGHTDECK_TEST_EMBEDDINGS_KEY_ECHO".to_owned()),
        ..config(&url, 64)
    })
    .unwrap();

    let err = client.embed(&["hello"]).await.unwrap_err();

    assert!(
        matches!(
            err,
            EmbeddingError::Http(HttpError::Status { status: 401, .. })
        ),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("sk-test-echoed-secret"), "{text}");
        assert!(text.contains("Bearer [redacted]"), "{text}");
    }
}

/// A batch as the source sends it.
fn observed(calls: Vec<Call>) -> flightdeck::app::Action {
    flightdeck::app::Action::Observed {
        now: "2026-03-14T14:15:00Z".parse().unwrap(),
        wall: "2026-03-14T14:15:00Z".parse().unwrap(),
        calls,
        changes: Vec::new(),
    }
}

#[tokio::test]
async fn the_stage_embeds_batches_and_passes_them_through_unembedded_while_the_endpoint_is_down() {
    use flightdeck::app::{Action, EmbeddingsStatus};
    use flightdeck::enrichment::stage;
    use tokio::sync::mpsc;

    let (url, server) = serve(Behaviour::FailAfter(1)).await;
    let client = EmbeddingClient::new(config(&url, 64)).unwrap();
    let (source, stage_in) = mpsc::channel(64);
    let (stage_out, mut app) = mpsc::channel(64);
    tokio::spawn(stage::run(client, stage_in, stage_out));
    let batch = || vec![call(Some("where is my order"), Some("it ships today"))];

    source.send(observed(batch())).await.unwrap();
    assert_eq!(
        app.recv().await,
        Some(Action::Embeddings(EmbeddingsStatus::Endpoint))
    );
    let Some(Action::Observed { calls, .. }) = app.recv().await else {
        panic!("the batch follows the status");
    };
    assert!(calls[0].input_embedding.is_some() && calls[0].output_embedding.is_some());

    // The endpoint now fails: the batch still arrives, as it was, after a status that says why.
    source.send(observed(batch())).await.unwrap();
    let Some(Action::Embeddings(EmbeddingsStatus::Failing(reason))) = app.recv().await else {
        panic!("a failure is reported");
    };
    assert!(reason.contains("500"), "{reason}");
    let Some(Action::Observed { calls, .. }) = app.recv().await else {
        panic!("the batch is not lost");
    };
    assert!(calls[0].input_embedding.is_none());

    // Resting: the next batch goes straight through without asking the endpoint.
    source.send(observed(batch())).await.unwrap();
    assert!(matches!(app.recv().await, Some(Action::Observed { .. })));
    assert_eq!(server.received().len(), 2);
}
