//! What the Prometheus source has told the app: each query's last good reading and the source's
//! status, updated from one poll's answers. No I/O, so the bookkeeping is tested without a server.

use chrono::{DateTime, Utc};

use super::client::PrometheusError;
use super::response::{InstantAnswer, RangeAnswer};
use crate::config::sources::PromQuery;
use crate::http::HttpError;
use crate::model::{InfraReading, SourceState, SourceStatus};

/// One query's fresh reading and how many samples it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub reading: InfraReading,
    pub samples: usize,
}

impl Answered {
    /// The reading of `query` evaluated at `at`, its trend from `range` when one was read.
    pub fn new(
        query: &PromQuery,
        at: DateTime<Utc>,
        instant: InstantAnswer,
        range: Option<RangeAnswer>,
    ) -> Self {
        let mut warnings = instant.warnings;
        let (trend, trend_samples) = match range {
            Some(range) => {
                warnings.extend(range.warnings);
                (range.points, range.samples)
            }
            None => (Vec::new(), 0),
        };
        Self {
            samples: instant.series + trend_samples,
            reading: InfraReading {
                value: instant.value,
                range: trend,
                series: instant.series,
                warnings,
                ..unanswered(query, at)
            },
        }
    }
}

/// A query's reading before any answer: no value, no trend.
fn unanswered(query: &PromQuery, at: DateTime<Utc>) -> InfraReading {
    InfraReading {
        name: query.name.clone(),
        query: query.query.clone(),
        unit: query.unit.clone(),
        value: None,
        at,
        range: Vec::new(),
        series: 0,
        warn_above: query.warn_above,
        error: None,
        warnings: Vec::new(),
    }
}

pub struct Ledger {
    queries: Vec<PromQuery>,
    /// The last good reading of each query, in config order.
    last_good: Vec<Option<InfraReading>>,
    status: SourceStatus,
    /// The newest evaluation time any query answered for: what the pane's values are as of.
    newest_answer: Option<DateTime<Utc>>,
}

impl Ledger {
    pub fn new(name: String, queries: Vec<PromQuery>) -> Self {
        Self {
            last_good: vec![None; queries.len()],
            queries,
            status: SourceStatus::waiting(name),
            newest_answer: None,
        }
    }

    pub fn status(&self) -> &SourceStatus {
        &self.status
    }

    /// Takes one poll's outcomes (one per query, in config order, evaluated at `at`) and returns
    /// every query's reading and the status as of `wall`. A failed query keeps its last good
    /// value with the error attached; the source is failing while any query fails.
    pub fn record(
        &mut self,
        at: DateTime<Utc>,
        outcomes: Vec<Result<Answered, PrometheusError>>,
        wall: DateTime<Utc>,
    ) -> (Vec<InfraReading>, SourceStatus) {
        let mut readings = Vec::with_capacity(outcomes.len());
        let mut failures = Vec::new();
        for ((query, last_good), outcome) in
            self.queries.iter().zip(&mut self.last_good).zip(outcomes)
        {
            match outcome {
                Ok(answered) => {
                    self.status.received += answered.samples as u64;
                    self.newest_answer = self.newest_answer.max(Some(at));
                    *last_good = Some(answered.reading.clone());
                    readings.push(answered.reading);
                }
                Err(err) => {
                    if matches!(
                        err,
                        PrometheusError::Http {
                            source: HttpError::BadResponse { .. },
                            ..
                        }
                    ) {
                        self.status.rejected += 1;
                    }
                    let mut reading = last_good.clone().unwrap_or_else(|| unanswered(query, at));
                    reading.error = Some(err.to_string());
                    readings.push(reading);
                    failures.push(err.to_string());
                }
            }
        }
        if failures.len() < readings.len() {
            self.status.last_data = Some(wall);
        }
        self.status.lag_ms = self
            .newest_answer
            .map(|newest| (wall - newest).num_milliseconds());
        self.status.state = match failures.as_slice() {
            [] => SourceState::Connected,
            [only] => SourceState::Failing(only.clone()),
            [first, rest @ ..] => {
                SourceState::Failing(format!("{first}; {} more queries failing too", rest.len()))
            }
        };
        if let Some(first) = failures.into_iter().next() {
            self.status.last_error = Some(first);
        }
        (readings, self.status.clone())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn query(name: &str) -> PromQuery {
        PromQuery {
            name: name.into(),
            query: format!("sum({name})"),
            unit: Some("%".into()),
            range_minutes: None,
            warn_above: Some(0.05),
        }
    }

    fn answered(name: &str, at: DateTime<Utc>, value: f64) -> Result<Answered, PrometheusError> {
        let instant = InstantAnswer {
            value: Some(value),
            series: 2,
            warnings: vec!["partial".into()],
        };
        let range = RangeAnswer {
            points: vec![(at - Duration::seconds(15), value), (at, value)],
            series: 2,
            samples: 4,
            warnings: Vec::new(),
        };
        Ok(Answered::new(&query(name), at, instant, Some(range)))
    }

    fn refused(name: &str) -> Result<Answered, PrometheusError> {
        Err(PrometheusError::Http {
            query: name.into(),
            source: HttpError::Connection {
                url: "http://127.0.0.1:1/api/v1/query".into(),
                reason: "Connection refused (os error 111)".into(),
            },
        })
    }

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn ledger() -> Ledger {
        Ledger::new(
            "prometheus 127.0.0.1:9090".into(),
            vec![query("errors"), query("queue")],
        )
    }

    #[test]
    fn a_good_poll_is_connected_and_counts_its_samples() {
        let mut ledger = ledger();
        let wall = t(0) + Duration::milliseconds(40);
        let (readings, status) = ledger.record(
            t(0),
            vec![answered("errors", t(0), 0.3), answered("queue", t(0), 47.0)],
            wall,
        );
        assert_eq!(readings.len(), 2);
        let errors = &readings[0];
        assert_eq!(
            (errors.name.as_str(), errors.value, errors.series),
            ("errors", Some(0.3), 2)
        );
        assert_eq!(errors.unit.as_deref(), Some("%"));
        assert_eq!(errors.warn_above, Some(0.05));
        assert_eq!(errors.range.len(), 2);
        assert_eq!(errors.warnings, vec!["partial".to_string()]);
        assert_eq!(errors.error, None);
        assert_eq!(status.state, SourceState::Connected);
        assert_eq!(status.received, 12);
        assert_eq!(status.last_data, Some(wall));
        assert_eq!(status.lag_ms, Some(40));
        assert_eq!(status.last_error, None);
    }

    #[test]
    fn a_failing_query_keeps_its_last_good_value_and_the_others_go_on() {
        let mut ledger = ledger();
        ledger.record(
            t(0),
            vec![answered("errors", t(0), 0.3), answered("queue", t(0), 47.0)],
            t(0),
        );
        let (readings, status) = ledger.record(
            t(15),
            vec![refused("errors"), answered("queue", t(15), 50.0)],
            t(15),
        );
        let errors = &readings[0];
        assert_eq!((errors.value, errors.at), (Some(0.3), t(0)));
        assert!(
            errors
                .error
                .as_deref()
                .unwrap()
                .contains("Connection refused"),
            "{errors:?}"
        );
        assert_eq!((readings[1].value, readings[1].at), (Some(50.0), t(15)));
        assert_eq!(readings[1].error, None);
        let SourceState::Failing(reason) = &status.state else {
            panic!("{status:?}");
        };
        assert!(
            reason.starts_with("query \"errors\": http://127.0.0.1:1/"),
            "{reason}"
        );
        assert_eq!(status.last_data, Some(t(15)));
        assert_eq!(status.last_error.as_ref(), Some(reason));
    }

    #[test]
    fn while_every_query_fails_the_values_age_and_the_error_stays_after_recovery() {
        let mut ledger = ledger();
        ledger.record(
            t(0),
            vec![answered("errors", t(0), 0.3), answered("queue", t(0), 47.0)],
            t(0),
        );
        let (_, status) = ledger.record(t(30), vec![refused("errors"), refused("queue")], t(30));
        assert_eq!(status.last_data, Some(t(0)));
        assert_eq!(status.lag_ms, Some(30_000));
        let SourceState::Failing(reason) = &status.state else {
            panic!("{status:?}");
        };
        assert!(reason.ends_with("; 1 more queries failing too"), "{reason}");
        let (_, status) = ledger.record(
            t(45),
            vec![
                answered("errors", t(45), 0.1),
                answered("queue", t(45), 3.0),
            ],
            t(45),
        );
        assert_eq!(status.state, SourceState::Connected);
        assert_eq!(status.lag_ms, Some(0));
        assert!(status.last_error.unwrap().contains("\"errors\""));
    }

    #[test]
    fn a_query_that_never_answered_has_no_value_and_says_why() {
        let mut ledger = ledger();
        let (readings, status) =
            ledger.record(t(0), vec![refused("errors"), refused("queue")], t(0));
        assert_eq!(readings[0].value, None);
        assert_eq!(readings[0].query, "sum(errors)");
        assert!(readings[0].error.is_some());
        assert_eq!((status.last_data, status.lag_ms), (None, None));
    }

    #[test]
    fn bad_responses_count_as_rejected() {
        let mut ledger = ledger();
        let bad = Err(PrometheusError::Http {
            query: "errors".into(),
            source: HttpError::BadResponse {
                url: "http://127.0.0.1:9090/api/v1/query".into(),
                reason: "not a Prometheus API answer".into(),
            },
        });
        let (_, status) = ledger.record(t(0), vec![bad, answered("queue", t(0), 1.0)], t(0));
        assert_eq!(status.rejected, 1);
    }
}
