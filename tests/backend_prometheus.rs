//! The Prometheus source against a real Prometheus holding the known history that
//! tests/backends/servers/prometheus.sh loads; run by tests/backends/run.sh.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use flightdeck::app::Action;
use flightdeck::config::sources::{PromQuery, PrometheusConfig};
use flightdeck::model::{InfraReading, SourceState, SourceStatus};
use flightdeck::sources::prometheus::{
    PrometheusClient, PrometheusError, PrometheusSource, ResponseError, read_query,
};
use tokio::sync::mpsc;

/// The history, as prometheus.sh writes it: every 15 s for two hours up to the anchor.
const HISTORY_SECONDS: i64 = 7200;
/// The 429 share goes from 5 % to 30 % this long before the anchor.
const SWITCH_BEFORE_ANCHOR: i64 = 1800;
const SHARE_429: &str =
    r#"sum(rate(llm_requests_total{code="429"}[5m])) / sum(rate(llm_requests_total[5m]))"#;

fn url() -> String {
    std::env::var("FLIGHTDECK_TEST_PROMETHEUS")
        .expect("FLIGHTDECK_TEST_PROMETHEUS: run this through tests/backends/run.sh")
}

fn anchor() -> DateTime<Utc> {
    let seconds = std::env::var("FLIGHTDECK_TEST_PROMETHEUS_ANCHOR")
        .expect("FLIGHTDECK_TEST_PROMETHEUS_ANCHOR: run this through tests/backends/run.sh")
        .parse()
        .expect("FLIGHTDECK_TEST_PROMETHEUS_ANCHOR holds unix seconds");
    DateTime::from_timestamp(seconds, 0).unwrap()
}

/// Both queues at `t`: the interactive one holds the minute of the history, the batch one 7.
fn queue_depth_at(t: DateTime<Utc>) -> f64 {
    let start = anchor() - Duration::seconds(HISTORY_SECONDS);
    ((t - start).num_seconds() / 60 + 7) as f64
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

fn client() -> PrometheusClient {
    PrometheusClient::new(&config(url(), 15, Vec::new())).unwrap()
}

fn assert_near(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
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
    let client = client();
    for at in [anchor(), anchor() - Duration::seconds(3600)] {
        let answer = client
            .instant("queue depth", "llm_queue_depth", at)
            .await
            .unwrap();
        assert_eq!(answer.value, Some(queue_depth_at(at)), "at {at}");
        assert_eq!(answer.series, 2);
        assert!(answer.warnings.is_empty());
    }
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn the_429_share_is_what_the_history_says_before_and_after_the_switch() {
    let client = client();
    let before = anchor() - Duration::seconds(SWITCH_BEFORE_ANCHOR + 600);
    let share = client
        .instant("429 share", SHARE_429, before)
        .await
        .unwrap();
    assert_near(share.value.unwrap(), 0.05);
    let share = client
        .instant("429 share", SHARE_429, anchor())
        .await
        .unwrap();
    assert_near(share.value.unwrap(), 0.30);
    let rate = client
        .instant(
            "429 rate",
            r#"sum(rate(llm_requests_total{code="429"}[5m]))"#,
            anchor(),
        )
        .await
        .unwrap();
    assert_near(rate.value.unwrap(), 6.0);
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_range_query_reads_the_history_point_by_point() {
    let client = client();
    let depth = query("queue depth", "llm_queue_depth", Some(10));
    let answered = read_query(&client, &depth, anchor(), Duration::seconds(60))
        .await
        .unwrap();
    let reading = answered.reading;
    assert_eq!(reading.value, Some(queue_depth_at(anchor())));
    assert_eq!(reading.range.len(), 11, "{:?}", reading.range);
    assert_eq!(
        reading.range.first().unwrap().0,
        anchor() - Duration::minutes(10)
    );
    for (t, value) in &reading.range {
        assert_eq!(*value, queue_depth_at(*t), "at {t}");
    }
    // Two series: the instant sample of each and 11 points of each.
    assert_eq!(answered.samples, 2 + 22);

    // An hour of the 429 share that ends 20 minutes after the switch: 5 %, then 30 %.
    let share = query("429 share", SHARE_429, Some(60));
    let end = anchor() - Duration::seconds(SWITCH_BEFORE_ANCHOR - 1200);
    let trend = read_query(&client, &share, end, Duration::seconds(60))
        .await
        .unwrap()
        .reading
        .range;
    assert_eq!(trend.len(), 61);
    assert_near(trend.first().unwrap().1, 0.05);
    assert_near(trend.last().unwrap().1, 0.30);
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_promql_syntax_error_names_the_query_and_quotes_prometheus() {
    let err = client()
        .instant("broken", "sum(rate(llm_requests_total[5m])", anchor())
        .await
        .unwrap_err();
    let PrometheusError::Refused { status, reason, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 400);
    let ResponseError::Api { error_type, error } = reason else {
        panic!("{reason:?}");
    };
    assert_eq!(error_type, "bad_data");
    assert!(
        error.contains("parse error: unclosed left parenthesis"),
        "{error}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("query \"broken\": {}/api/v1/query", url())),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn an_unknown_metric_has_no_value_and_is_no_error() {
    let answer = client()
        .instant("nothing", "llm_no_such_metric_total", anchor())
        .await
        .unwrap();
    assert_eq!((answer.value, answer.series), (None, 0));
}

/// Runs the sources on one channel for `duration`, then closes it; returns what they sent.
async fn run_sources(sources: Vec<PrometheusSource>, duration: StdDuration) -> Vec<Action> {
    let (tx, mut rx) = mpsc::unbounded_channel();
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
    let at_anchor = anchor().timestamp();
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
        query("self scrape", r#"up{job="prometheus"}"#, None),
        query("nothing", "llm_no_such_metric_total", None),
    ];
    let source = PrometheusSource::new(config(url(), 1, queries)).unwrap();
    let name = source.name();
    assert_eq!(name, "prometheus 127.0.0.1:19090");
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
    assert_eq!(
        names,
        ["queue depth", "429 share", "self scrape", "nothing"]
    );
    assert_eq!(readings[0].value, Some(queue_depth_at(anchor())));
    assert_near(readings[1].value.unwrap(), 0.30);
    assert!(readings[1].above_limit());
    // Five minutes at the 15 s step, every point pinned to the anchor by `@`.
    assert_eq!(readings[1].range.len(), 21);
    assert!(
        readings[1]
            .range
            .iter()
            .all(|(_, v)| (v - 0.30).abs() < 1e-9)
    );
    assert_eq!(readings[2].value, Some(1.0), "{:?}", readings[2]);
    assert_eq!((readings[3].value, readings[3].series), (None, 0));
    assert!(readings.iter().all(|r| r.error.is_none()), "{readings:?}");
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn a_server_that_is_not_listening_fails_alone_and_keeps_being_polled() {
    let good = PrometheusSource::new(config(
        url(),
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
