//! The Prometheus source against a real Prometheus and a real VictoriaMetrics, each holding the
//! known history of tests/backends/llm_history.awk; run by tests/backends/run.sh.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use flightdeck::app::Action;
use flightdeck::config::sources::{PromQuery, PrometheusConfig};
use flightdeck::model::{InfraReading, SourceState, SourceStatus};
use flightdeck::sources::prometheus::{
    PrometheusClient, PrometheusError, PrometheusSource, ResponseError, read_query,
};
use tokio::sync::mpsc;

/// The history: every 15 s for two hours up to the anchor.
const HISTORY_SECONDS: i64 = 7200;
/// The 429 share goes from 5 % to 30 % this long before the anchor.
const SWITCH_BEFORE_ANCHOR: i64 = 1800;
const SHARE_429: &str =
    r#"sum(rate(llm_requests_total{code="429"}[5m])) / sum(rate(llm_requests_total[5m]))"#;

/// A Prometheus-compatible server that tests/backends/run.sh started and loaded.
struct Server {
    name: &'static str,
    url: String,
    /// The time of the history's last samples.
    anchor: DateTime<Utc>,
    /// What its error for an unclosed parenthesis says, and with which HTTP status.
    parse_error: (u16, &'static str),
}

impl Server {
    /// The server whose url is in `FLIGHTDECK_TEST_{VAR}` and anchor in `..._ANCHOR`.
    fn from_env(name: &'static str, var: &str, parse_error: (u16, &'static str)) -> Self {
        let read = |var: String| {
            std::env::var(&var)
                .unwrap_or_else(|_| panic!("{var}: run this through tests/backends/run.sh"))
        };
        let anchor = read(format!("FLIGHTDECK_TEST_{var}_ANCHOR"))
            .parse()
            .expect("the anchor is unix seconds");
        Self {
            name,
            url: read(format!("FLIGHTDECK_TEST_{var}")),
            anchor: DateTime::from_timestamp(anchor, 0).unwrap(),
            parse_error,
        }
    }

    fn client(&self) -> PrometheusClient {
        PrometheusClient::new(&config(self.url.clone(), 15, Vec::new())).unwrap()
    }

    /// Both queues at `t`: the interactive one holds the minute of the history, the batch one 7.
    fn queue_depth_at(&self, t: DateTime<Utc>) -> f64 {
        let start = self.anchor - Duration::seconds(HISTORY_SECONDS);
        ((t - start).num_seconds() / 60 + 7) as f64
    }
}

fn prometheus() -> Server {
    Server::from_env(
        "prometheus",
        "PROMETHEUS",
        (400, "parse error: unclosed left parenthesis"),
    )
}

/// Every server the history tests run against.
fn servers() -> [Server; 2] {
    [
        prometheus(),
        Server::from_env(
            "victoriametrics",
            "VICTORIAMETRICS",
            (422, "unexpected token"),
        ),
    ]
}

fn config(url: String, interval_seconds: u64, queries: Vec<PromQuery>) -> PrometheusConfig {
    PrometheusConfig {
        url,
        interval_seconds,
        timeout_ms: 2_000,
        bearer_token_env: None,
        queries,
    }
}

fn query(name: &str, promql: &str, range_minutes: Option<u32>) -> PromQuery {
    PromQuery {
        name: name.into(),
        query: promql.into(),
        unit: None,
        range_minutes,
        warn_above: Some(0.1),
    }
}

fn assert_near(actual: f64, expected: f64, server: &Server) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{}: {actual} is not {expected}",
        server.name
    );
}

/// A port nothing listens on: bound by us, then released.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn an_instant_gauge_is_the_sum_of_its_series() {
    for server in servers() {
        let client = server.client();
        for at in [server.anchor, server.anchor - Duration::seconds(3600)] {
            let answer = client
                .instant("queue depth", "llm_queue_depth", at)
                .await
                .unwrap();
            let context = format!("{} at {at}", server.name);
            assert_eq!(answer.value, Some(server.queue_depth_at(at)), "{context}");
            assert_eq!(answer.series, 2, "{context}");
            assert!(answer.warnings.is_empty(), "{context}");
        }
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn the_429_share_is_what_the_history_says_before_and_after_the_switch() {
    for server in servers() {
        let client = server.client();
        let before = server.anchor - Duration::seconds(SWITCH_BEFORE_ANCHOR + 600);
        let share = client
            .instant("429 share", SHARE_429, before)
            .await
            .unwrap();
        assert_near(share.value.unwrap(), 0.05, &server);
        let share = client
            .instant("429 share", SHARE_429, server.anchor)
            .await
            .unwrap();
        assert_near(share.value.unwrap(), 0.30, &server);
        let rate = client
            .instant(
                "429 rate",
                r#"sum(rate(llm_requests_total{code="429"}[5m]))"#,
                server.anchor,
            )
            .await
            .unwrap();
        assert_near(rate.value.unwrap(), 6.0, &server);
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_range_query_reads_the_history_point_by_point() {
    for server in servers() {
        let client = server.client();
        let depth = query("queue depth", "llm_queue_depth", Some(10));
        let answered = read_query(&client, &depth, server.anchor, Duration::seconds(60))
            .await
            .unwrap();
        let reading = answered.reading;
        assert_eq!(reading.value, Some(server.queue_depth_at(server.anchor)));
        assert_eq!(
            reading.range.len(),
            11,
            "{}: {:?}",
            server.name,
            reading.range
        );
        assert_eq!(
            reading.range.first().unwrap().0,
            server.anchor - Duration::minutes(10)
        );
        for (t, value) in &reading.range {
            assert_eq!(*value, server.queue_depth_at(*t), "{} at {t}", server.name);
        }
        // Two series: the instant sample of each and 11 points of each.
        assert_eq!(answered.samples, 2 + 22, "{}", server.name);

        // An hour of the 429 share that ends 20 minutes after the switch: 5 %, then 30 %.
        let share = query("429 share", SHARE_429, Some(60));
        let end = server.anchor - Duration::seconds(SWITCH_BEFORE_ANCHOR - 1200);
        let trend = read_query(&client, &share, end, Duration::seconds(60))
            .await
            .unwrap()
            .reading
            .range;
        assert_eq!(trend.len(), 61, "{}", server.name);
        assert_near(trend.first().unwrap().1, 0.05, &server);
        assert_near(trend.last().unwrap().1, 0.30, &server);
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_promql_syntax_error_names_the_query_and_quotes_the_server() {
    for server in servers() {
        let err = server
            .client()
            .instant("broken", "sum(rate(llm_requests_total[5m])", server.anchor)
            .await
            .unwrap_err();
        let PrometheusError::Refused { status, reason, .. } = &err else {
            panic!("{}: {err:?}", server.name);
        };
        let (expected_status, expected_text) = server.parse_error;
        assert_eq!(*status, expected_status, "{}", server.name);
        let ResponseError::Api { error, .. } = reason else {
            panic!("{}: {reason:?}", server.name);
        };
        assert!(error.contains(expected_text), "{}: {error}", server.name);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "query \"broken\": {}/api/v1/query answered HTTP {status}: ",
                server.url
            )),
            "{message}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn an_unknown_metric_has_no_value_and_is_no_error() {
    for server in servers() {
        let answer = server
            .client()
            .instant("nothing", "llm_no_such_metric_total", server.anchor)
            .await
            .unwrap();
        assert_eq!((answer.value, answer.series), (None, 0), "{}", server.name);
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_query_at_now_sees_the_live_series() {
    let server = prometheus();
    let answer = server
        .client()
        .instant("self scrape", r#"up{job="prometheus"}"#, Utc::now())
        .await
        .unwrap();
    assert_eq!((answer.value, answer.series), (Some(1.0), 1));
}

/// Runs the sources on one channel for `duration`, then closes it; returns what they sent.
async fn run_sources(sources: Vec<PrometheusSource>, duration: StdDuration) -> Vec<Action> {
    let (tx, mut rx) = mpsc::channel(64);
    let tasks: Vec<_> = sources
        .into_iter()
        .map(|source| tokio::spawn(source.run(tx.clone())))
        .collect();
    drop(tx);
    let mut actions = Vec::new();
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(Some(action)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        actions.push(action);
    }
    drop(rx);
    for task in tasks {
        tokio::time::timeout(StdDuration::from_secs(5), task)
            .await
            .expect("a source keeps running after the app stopped listening")
            .unwrap();
    }
    actions
}

fn statuses<'a>(actions: &'a [Action], name: &str) -> Vec<&'a SourceStatus> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Source(status) if status.name == name => Some(status),
            _ => None,
        })
        .collect()
}

fn batches(actions: &[Action]) -> Vec<&Vec<InfraReading>> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Infra(readings) => Some(readings),
            _ => None,
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn the_polling_task_sends_readings_that_match_the_history() {
    for server in servers() {
        let at_anchor = server.anchor.timestamp();
        let queries = vec![
            query(
                "queue depth",
                &format!("sum(llm_queue_depth @ {at_anchor})"),
                None,
            ),
            query(
                "429 share",
                &SHARE_429.replace("[5m]", &format!("[5m] @ {at_anchor}")),
                Some(5),
            ),
            query("nothing", "llm_no_such_metric_total", None),
        ];
        let source = PrometheusSource::new(config(server.url.clone(), 1, queries)).unwrap();
        let name = source.name();
        assert_eq!(
            name,
            format!("prometheus {}", &server.url["http://".len()..])
        );
        let actions = run_sources(vec![source], StdDuration::from_millis(2_500)).await;

        let statuses = statuses(&actions, &name);
        assert_eq!(statuses[0].state, SourceState::Waiting);
        let polls = &statuses[1..];
        assert!(
            (2..=4).contains(&polls.len()),
            "one poll a second: {polls:?}"
        );
        let last = polls.last().unwrap();
        assert_eq!(last.state, SourceState::Connected, "{last:?}");
        assert!(last.last_data.is_some());
        assert!((0..2_000).contains(&last.lag_ms.unwrap()), "{last:?}");
        assert!(last.received > 0);
        assert_eq!((last.rejected, last.last_error.as_ref()), (0, None));

        let readings = *batches(&actions).last().unwrap();
        let names: Vec<&str> = readings.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["queue depth", "429 share", "nothing"]);
        assert_eq!(
            readings[0].value,
            Some(server.queue_depth_at(server.anchor))
        );
        assert_near(readings[1].value.unwrap(), 0.30, &server);
        assert!(readings[1].above_limit());
        // Five minutes at the 15 s step, every point pinned to the anchor by `@`.
        assert_eq!(readings[1].range.len(), 21, "{}", server.name);
        for (_, value) in &readings[1].range {
            assert_near(*value, 0.30, &server);
        }
        assert_eq!((readings[2].value, readings[2].series), (None, 0));
        assert!(readings.iter().all(|r| r.error.is_none()), "{readings:?}");
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_server_that_is_not_listening_fails_alone_and_keeps_being_polled() {
    let good = PrometheusSource::new(config(
        prometheus().url,
        1,
        vec![query("queue depth", "sum(llm_queue_depth)", None)],
    ))
    .unwrap();
    let closed = closed_port_url();
    let down = PrometheusSource::new(config(
        closed.clone(),
        1,
        vec![
            query("queue depth", "sum(llm_queue_depth)", None),
            query("429 share", SHARE_429, Some(5)),
        ],
    ))
    .unwrap();
    let (good_name, down_name) = (good.name(), down.name());
    let actions = run_sources(vec![good, down], StdDuration::from_millis(2_500)).await;

    let down_polls = &statuses(&actions, &down_name)[1..];
    assert!(
        (2..=4).contains(&down_polls.len()),
        "polled once a second, no busy loop: {down_polls:?}"
    );
    for status in down_polls {
        let SourceState::Failing(reason) = &status.state else {
            panic!("{status:?}");
        };
        assert!(
            reason.starts_with(&format!(
                "query \"queue depth\": {closed}/api/v1/query: connection failed: "
            )),
            "{reason}"
        );
        assert!(reason.contains("refused"), "{reason}");
        assert!(reason.ends_with("; 1 more queries failing too"), "{reason}");
        assert_eq!((status.last_data, status.received), (None, 0));
    }
    let good_polls = &statuses(&actions, &good_name)[1..];
    assert!(good_polls.len() >= 2, "{good_polls:?}");
    assert!(
        good_polls
            .iter()
            .all(|status| status.state == SourceState::Connected)
    );
    let down_readings: Vec<&InfraReading> = batches(&actions)
        .into_iter()
        .flatten()
        .filter(|reading| reading.error.is_some())
        .collect();
    assert!(down_readings.iter().all(|reading| reading.value.is_none()));
    assert_eq!(down_readings.len(), 2 * down_polls.len());
}
