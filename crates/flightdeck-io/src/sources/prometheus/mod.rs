//! The Prometheus source: the configured PromQL queries, read from any Prometheus-compatible API
//! (Prometheus, Mimir, Thanos, VictoriaMetrics) on an interval and sent to the app as
//! infrastructure readings, with the source's status after every poll.

mod client;
mod ledger;
mod response;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};
use tokio::sync::mpsc;

pub use client::{PrometheusClient, PrometheusError};
pub use ledger::Answered;
pub use response::{InstantAnswer, RangeAnswer, ResponseError};

use ledger::Ledger;

use super::SourceEvent;
use crate::config::sources::{PromQuery, PrometheusConfig};
use crate::outbox::Deliver;

/// Prometheus's own default scrape interval: a finer trend only repeats samples.
const MIN_TREND_STEP_SECONDS: i64 = 15;
/// A day: an infrastructure reading older than that is no evidence in an incident.
const MAX_INTERVAL_SECONDS: u64 = 24 * 3600;
/// A trend is a sparkline a pane wide; Prometheus refuses more than 11,000 points anyway.
const MAX_TREND_POINTS: u64 = 720;

/// The configured queries against one server, ready to poll.
pub struct PrometheusSource {
    client: Arc<PrometheusClient>,
    queries: Vec<PromQuery>,
    interval: StdDuration,
}

impl PrometheusSource {
    /// Checks the config (url, token variable, names, intervals) before the first poll.
    pub fn new(config: PrometheusConfig) -> Result<Self, PrometheusError> {
        if !(1..=MAX_INTERVAL_SECONDS).contains(&config.interval_seconds) {
            return Err(PrometheusError::InvalidConfig(format!(
                "interval_seconds must be between 1 and {MAX_INTERVAL_SECONDS}"
            )));
        }
        if config.queries.is_empty() {
            return Err(PrometheusError::InvalidConfig(
                "no queries: add a [[sources.prometheus.queries]] with a name and a query".into(),
            ));
        }
        let mut names = HashSet::new();
        for query in &config.queries {
            if query.name.trim().is_empty() || query.query.trim().is_empty() {
                return Err(PrometheusError::InvalidConfig(format!(
                    "query {:?}: name and query must not be empty",
                    query.name
                )));
            }
            // The app keeps one reading per name.
            if !names.insert(query.name.as_str()) {
                return Err(PrometheusError::InvalidConfig(format!(
                    "two queries are named {:?}; names must be unique",
                    query.name
                )));
            }
            if query.range_minutes == Some(0) {
                return Err(PrometheusError::InvalidConfig(format!(
                    "query {:?}: range_minutes must be at least 1",
                    query.name
                )));
            }
        }
        Ok(Self {
            client: Arc::new(PrometheusClient::new(&config)?),
            queries: config.queries,
            interval: StdDuration::from_secs(config.interval_seconds),
        })
    }

    /// The name the source reports under, e.g. "prometheus 127.0.0.1:9090".
    pub fn name(&self) -> String {
        format!("prometheus {}", self.client.authority())
    }

    /// Reads every query at `at`, all at once; one outcome per query, in config order.
    pub async fn read_all(&self, at: DateTime<Utc>) -> Vec<Result<Answered, PrometheusError>> {
        let step = trend_step(self.interval);
        let reads: Vec<_> = self
            .queries
            .iter()
            .map(|query| {
                let client = Arc::clone(&self.client);
                let query = query.clone();
                tokio::spawn(async move { read_query(&client, &query, at, step).await })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(reads.len());
        for (query, read) in self.queries.iter().zip(reads) {
            outcomes.push(read.await.unwrap_or_else(|err| {
                Err(PrometheusError::Interrupted {
                    query: query.name.clone(),
                    reason: err.to_string(),
                })
            }));
        }
        outcomes
    }

    /// Polls every interval until the app stops listening: sends the readings, then the status.
    /// A failing server is polled again at the next interval; nothing here panics or gives up.
    pub async fn run(self, actions: mpsc::Sender<impl From<SourceEvent> + Send>) {
        let mut ledger = Ledger::new(self.name(), self.queries.clone());
        if actions
            .deliver(SourceEvent::Status(ledger.status().clone()))
            .await
            .is_err()
        {
            return;
        }
        let mut ticker = tokio::time::interval(self.interval);
        // A poll slower than the interval delays the next one rather than bunching them up.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = actions.closed() => return,
            }
            // Whole milliseconds, as the API reads them, so every reading states its exact time.
            let now = Utc::now();
            let at = now.duration_trunc(Duration::milliseconds(1)).unwrap_or(now);
            let outcomes = self.read_all(at).await;
            let (readings, status) = ledger.record(at, outcomes, Utc::now());
            if actions.deliver(SourceEvent::Infra(readings)).await.is_err()
                || actions.deliver(SourceEvent::Status(status)).await.is_err()
            {
                return;
            }
        }
    }
}

/// One query's value at `at` and, when it asks for one, its trend up to `at`.
pub async fn read_query(
    client: &PrometheusClient,
    query: &PromQuery,
    at: DateTime<Utc>,
    step: Duration,
) -> Result<Answered, PrometheusError> {
    let instant = client.instant(&query.name, &query.query, at).await?;
    let range = match query.range_minutes {
        Some(minutes) => {
            let start = at - Duration::minutes(i64::from(minutes));
            let finest = (u64::from(minutes) * 60).div_ceil(MAX_TREND_POINTS);
            let step = step.max(Duration::seconds(finest as i64));
            Some(
                client
                    .range(&query.name, &query.query, start, at, step)
                    .await?,
            )
        }
        None => None,
    };
    Ok(Answered::new(query, at, instant, range))
}

/// The trend's resolution: the poll interval, but no finer than a scrape.
fn trend_step(interval: StdDuration) -> Duration {
    // At most MAX_INTERVAL_SECONDS, checked by `PrometheusSource::new`.
    let seconds = i64::try_from(interval.as_secs()).unwrap_or(MIN_TREND_STEP_SECONDS);
    Duration::seconds(seconds.max(MIN_TREND_STEP_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(queries: Vec<PromQuery>) -> PrometheusConfig {
        PrometheusConfig {
            url: "http://127.0.0.1:9090".into(),
            interval_seconds: 15,
            timeout_ms: 5_000,
            bearer_token_env: None,
            queries,
        }
    }

    fn query(name: &str) -> PromQuery {
        PromQuery {
            name: name.into(),
            query: "up".into(),
            unit: None,
            range_minutes: None,
            warn_above: None,
        }
    }

    fn refusal(config: PrometheusConfig) -> String {
        PrometheusSource::new(config).err().unwrap().to_string()
    }

    #[test]
    fn the_source_is_named_after_its_server() {
        let source = PrometheusSource::new(config(vec![query("up")])).unwrap();
        assert_eq!(source.name(), "prometheus 127.0.0.1:9090");
    }

    #[test]
    fn a_config_without_queries_or_with_twin_names_is_refused() {
        assert!(refusal(config(Vec::new())).contains("no queries"));
        assert!(refusal(config(vec![query("up"), query("up")])).contains("named \"up\""));
        let mut zero_range = query("up");
        zero_range.range_minutes = Some(0);
        assert!(refusal(config(vec![zero_range])).contains("range_minutes"));
        let mut zero_interval = config(vec![query("up")]);
        zero_interval.interval_seconds = 0;
        assert!(refusal(zero_interval).contains("interval_seconds"));
    }

    #[test]
    fn the_trend_step_follows_the_interval_but_not_below_a_scrape() {
        assert_eq!(trend_step(StdDuration::from_secs(1)), Duration::seconds(15));
        assert_eq!(
            trend_step(StdDuration::from_secs(60)),
            Duration::seconds(60)
        );
    }
}
