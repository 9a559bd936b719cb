//! The Prometheus client's HTTP edge against a local server that plays the parts a real
//! Prometheus will not: a gateway that wants a token, a proxy that answers HTML, a slow backend.
//! The query semantics are tested against a real Prometheus in tests/backend_prometheus.rs.

mod support;

use std::time::Duration as StdDuration;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use flightdeck::config::sources::PrometheusConfig;
use flightdeck::http::HttpError;
use flightdeck::sources::prometheus::{PrometheusClient, PrometheusError};
use support::fake_server::{FakeServer, Received};

/// What the test server does with each request.
#[derive(Clone)]
enum Behaviour {
    /// Answers one series with the value 1 (two points of it for a range).
    Answer,
    /// Answers 401 quoting the Authorization header, as a careless gateway might.
    EchoAuthorization,
    /// Answers a proxy's HTML error page.
    BadGateway,
    Sleep(StdDuration),
}

/// One request as the server saw it: its path and query string, and its Authorization header.
struct Seen {
    uri: String,
    authorization: Option<String>,
}

/// What the server has been sent, in order.
fn seen(server: &FakeServer) -> Vec<Seen> {
    server
        .received()
        .iter()
        .map(|request| Seen {
            uri: request.uri.to_string(),
            authorization: request.authorization().map(str::to_owned),
        })
        .collect()
}

const ONE_SERIES: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}"#;

const TWO_POINTS: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1699999985,"1"],[1700000000,"1"]]}]}}"#;

async fn query(
    State(behaviour): State<Behaviour>,
    Extension(request): Extension<Received>,
    uri: Uri,
) -> Response {
    match behaviour {
        Behaviour::Answer if uri.path().ends_with("/query_range") => TWO_POINTS.into_response(),
        Behaviour::Answer => ONE_SERIES.into_response(),
        Behaviour::EchoAuthorization => (
            StatusCode::UNAUTHORIZED,
            format!(
                "no access for {}",
                request.authorization().unwrap_or_default()
            ),
        )
            .into_response(),
        Behaviour::BadGateway => (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Behaviour::Sleep(pause) => {
            tokio::time::sleep(pause).await;
            ONE_SERIES.into_response()
        }
    }
}

/// Starts a server on a free port; returns its base url and the server, which records what it
/// is sent.
async fn serve(behaviour: Behaviour) -> (String, FakeServer) {
    let routes = Router::new()
        .route("/prefix/api/v1/query", get(query))
        .route("/prefix/api/v1/query_range", get(query))
        .with_state(behaviour);
    let server = FakeServer::start(routes).await;
    (format!("{}/prefix", server.url), server)
}

fn config(url: &str) -> PrometheusConfig {
    PrometheusConfig {
        url: url.to_owned(),
        interval_seconds: 15,
        timeout_ms: 1_000,
        bearer_token_env: None,
        queries: Vec::new(),
    }
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_250).unwrap()
}

/// Sets a variable only this test reads.
fn set_token(var: &str, token: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the servers are IP
    // literals, so no name resolution), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, token) };
}

#[tokio::test]
async fn sends_the_query_its_time_and_the_bearer_token_from_the_named_variable() {
    let (url, server) = serve(Behaviour::Answer).await;
    set_token("FLIGHTDECK_TEST_PROMETHEUS_TOKEN_SENT", "prom-token-sent");
    let client = PrometheusClient::new(&PrometheusConfig {
        bearer_token_env: Some("FLIGHTDECK_TEST_PROMETHEUS_TOKEN_SENT".into()),
        ..config(&url)
    })
    .unwrap();

    let answer = client
        .instant("errors", r#"sum(rate(x{code="429"}[5m]))"#, at())
        .await
        .unwrap();

    assert_eq!(answer.value, Some(1.0));
    let seen = seen(&server);
    assert_eq!(
        seen[0].uri,
        "/prefix/api/v1/query?query=sum%28rate%28x%7Bcode%3D%22429%22%7D%5B5m%5D%29%29\
         &time=1700000000.250"
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer prom-token-sent")
    );
}

#[tokio::test]
async fn a_token_the_server_echoes_never_reaches_the_error() {
    let (url, _server) = serve(Behaviour::EchoAuthorization).await;
    set_token(
        "FLIGHTDECK_TEST_PROMETHEUS_TOKEN_ECHOED",
        "prom-token-echoed",
    );
    let client = PrometheusClient::new(&PrometheusConfig {
        bearer_token_env: Some("FLIGHTDECK_TEST_PROMETHEUS_TOKEN_ECHOED".into()),
        ..config(&url)
    })
    .unwrap();

    let err = client.instant("errors", "up", at()).await.unwrap_err();

    let message = err.to_string();
    assert!(!message.contains("prom-token-echoed"), "{message}");
    assert_eq!(
        message,
        format!(
            "query \"errors\": {url}/api/v1/query answered HTTP 401: no access for Bearer [redacted]"
        )
    );
}

#[tokio::test]
async fn a_proxy_error_page_is_reported_with_its_status_and_an_excerpt() {
    let (url, _server) = serve(Behaviour::BadGateway).await;
    let client = PrometheusClient::new(&config(&url)).unwrap();

    let err = client.instant("errors", "up", at()).await.unwrap_err();

    assert_eq!(
        err,
        PrometheusError::Http {
            query: "errors".into(),
            source: HttpError::Status {
                url: format!("{url}/api/v1/query"),
                status: 502,
                body: "<html><body>502 Bad Gateway</body></html>".into(),
            },
        }
    );
}

#[tokio::test]
async fn a_slow_server_times_out_at_the_configured_limit() {
    let (url, _server) = serve(Behaviour::Sleep(StdDuration::from_secs(3))).await;
    let client = PrometheusClient::new(&config(&url)).unwrap();

    let started = std::time::Instant::now();
    let err = client.instant("errors", "up", at()).await.unwrap_err();

    assert!(started.elapsed() < StdDuration::from_secs(2));
    assert_eq!(
        err.to_string(),
        format!("query \"errors\": {url}/api/v1/query did not answer within 1000 ms")
    );
}

#[tokio::test]
async fn a_range_query_sends_its_window_and_step() {
    let (url, server) = serve(Behaviour::Answer).await;
    let client = PrometheusClient::new(&config(&url)).unwrap();

    let answer = client
        .range(
            "errors",
            "up",
            at() - Duration::minutes(5),
            at(),
            Duration::seconds(15),
        )
        .await
        .unwrap();

    assert_eq!(answer.points.len(), 2);
    assert_eq!(
        seen(&server)[0].uri,
        "/prefix/api/v1/query_range?query=up&start=1699999700.250&end=1700000000.250\
         &step=15.000"
    );
}
