//! The metrics the cockpit shows: what each measures, when it alarms, and its current reading.

use std::fmt;

use chrono::{DateTime, Utc};

use super::change_points::Slice;
use super::detect::{Rule, Shifts};
use super::observation::Observation;
use crate::model::{CallStatus, MitigationKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricId {
    Hallucination,
    Grounded,
    Refusal,
    FalseRefusal,
    Schema,
    Similarity,
    Feedback,
    InputDrift,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    Errors,
    Timeouts,
    RateLimits,
    Throughput,
}

/// Which triage question a metric speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// What the answers say: the failures dashboards do not see.
    Quality,
    /// Whether the provider answered at all, and how fast.
    Transport,
    Volume,
    /// What the feature is asked: a cause to explain, not a failure of its own.
    Input,
}

impl Family {
    /// Whether an alarm in this family is a failure that opens an incident on its own.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Quality | Self::Transport)
    }
}

/// How a metric is computed from observations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// Share of applicable calls that are bad.
    Rate,
    /// A latency quantile of successful calls, in milliseconds.
    Latency(f64),
    /// Calls per minute.
    Throughput,
}

/// Alarm limits on the change against baseline: absolute points for rates, a ratio for latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub warn: f64,
    pub critical: f64,
}

impl MetricId {
    pub const ALL: [MetricId; 15] = [
        Self::Hallucination,
        Self::Grounded,
        Self::Refusal,
        Self::FalseRefusal,
        Self::Schema,
        Self::Similarity,
        Self::Feedback,
        Self::InputDrift,
        Self::LatencyP50,
        Self::LatencyP95,
        Self::LatencyP99,
        Self::Errors,
        Self::Timeouts,
        Self::RateLimits,
        Self::Throughput,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Hallucination => "Hallucination",
            Self::Grounded => "Grounded",
            Self::Refusal => "Refusal",
            Self::FalseRefusal => "False refusal",
            Self::Schema => "Schema valid",
            Self::Similarity => "Similarity",
            Self::Feedback => "Feedback down",
            Self::InputDrift => "Input drift",
            Self::LatencyP50 => "Latency p50",
            Self::LatencyP95 => "Latency p95",
            Self::LatencyP99 => "Latency p99",
            Self::Errors => "Errors",
            Self::Timeouts => "Timeouts",
            Self::RateLimits => "Rate limits",
            Self::Throughput => "Throughput",
        }
    }

    /// A stable snake_case key for files and JSON.
    pub fn key(self) -> &'static str {
        match self {
            Self::Hallucination => "hallucination_rate",
            Self::Grounded => "groundedness",
            Self::Refusal => "refusal_rate",
            Self::FalseRefusal => "false_refusal_rate",
            Self::Schema => "schema_compliance",
            Self::Similarity => "similarity",
            Self::Feedback => "thumbs_down_rate",
            Self::InputDrift => "input_drift",
            Self::LatencyP50 => "latency_p50_ms",
            Self::LatencyP95 => "latency_p95_ms",
            Self::LatencyP99 => "latency_p99_ms",
            Self::Errors => "error_rate",
            Self::Timeouts => "timeout_rate",
            Self::RateLimits => "rate_limited_rate",
            Self::Throughput => "calls_per_min",
        }
    }

    /// Why a mitigation of `kind` is expected to move this metric, if it is: an alarm on it after
    /// the mitigation is the mitigation's effect, not the incident's.
    pub fn expected_after(self, kind: MitigationKind) -> Option<&'static str> {
        match (kind, self) {
            (MitigationKind::KillSwitch, Self::Similarity) => {
                Some("the fallback answers unlike the model")
            }
            (MitigationKind::KillSwitch, Self::Feedback) => {
                Some("users rate the fallback worse than the model's answers")
            }
            (MitigationKind::PromptRollback, Self::Similarity) => {
                Some("the earlier version writes in its own style")
            }
            (MitigationKind::ModelPin, Self::Similarity) => {
                Some("the pinned snapshot writes in its own style")
            }
            _ => None,
        }
    }

    /// Whether this metric's alarm opens an incident on its own. Similarity, a proxy whose share
    /// swings with the mix of requests, and Input drift, a cause, only join one.
    pub fn opens_incident(self) -> bool {
        self.family().is_failure() && self != Self::Similarity
    }

    pub fn family(self) -> Family {
        match self {
            Self::Hallucination
            | Self::Grounded
            | Self::Refusal
            | Self::FalseRefusal
            | Self::Schema
            | Self::Similarity
            | Self::Feedback => Family::Quality,
            Self::InputDrift => Family::Input,
            Self::Throughput => Family::Volume,
            _ => Family::Transport,
        }
    }

    pub fn measure(self) -> Measure {
        match self {
            Self::LatencyP50 => Measure::Latency(0.50),
            Self::LatencyP95 => Measure::Latency(0.95),
            Self::LatencyP99 => Measure::Latency(0.99),
            Self::Throughput => Measure::Throughput,
            _ => Measure::Rate,
        }
    }

    /// The metrics that are rates, in the order of [`rate_outcomes`].
    pub const RATES: [MetricId; 11] = [
        Self::Hallucination,
        Self::Grounded,
        Self::Refusal,
        Self::FalseRefusal,
        Self::Schema,
        Self::Similarity,
        Self::Feedback,
        Self::InputDrift,
        Self::Errors,
        Self::Timeouts,
        Self::RateLimits,
    ];

    /// The metric's place in [`MetricId::RATES`], if it is a rate.
    pub fn rate_index(self) -> Option<usize> {
        Self::RATES.iter().position(|m| *m == self)
    }

    /// For rate metrics, whether an observation counts as bad; `None` when it does not apply.
    pub fn is_bad(self, obs: &Observation) -> Option<bool> {
        match self {
            Self::Hallucination => obs.hallucinated,
            Self::Grounded => obs.grounded.map(|grounded| !grounded),
            Self::Refusal => obs.refused,
            // Refusals among the requests that should have been answered.
            Self::FalseRefusal => obs.refused.filter(|_| obs.should_answer == Some(true)),
            Self::Schema => obs.schema_compliant.map(|ok| !ok),
            Self::Similarity => obs.unlike,
            Self::Feedback => obs.feedback_down,
            Self::InputDrift => obs.novel_input,
            Self::Errors => Some(obs.status == CallStatus::Error),
            Self::Timeouts => Some(obs.status == CallStatus::Timeout),
            Self::RateLimits => Some(obs.status == CallStatus::RateLimited),
            Self::LatencyP50 | Self::LatencyP95 | Self::LatencyP99 | Self::Throughput => None,
        }
    }

    /// The rises its change-point detectors are tuned to: for rates the warn limit and a large
    /// rise, for p95 latency the share of calls slower than the baseline's p95.
    pub fn shifts(self) -> Option<Shifts> {
        match self.measure() {
            Measure::Rate => Some(Shifts {
                small: self.limits().warn,
                large: 2.5 * self.limits().critical,
            }),
            Measure::Latency(_) if self == Self::LatencyP95 => Some(Shifts {
                small: 0.10,
                large: 0.40,
            }),
            Measure::Latency(_) | Measure::Throughput => None,
        }
    }

    /// Schema is shown as compliance, Grounded as the grounded share and Similarity as the share
    /// like the baseline, so their displayed values are the share of good calls.
    pub fn shows_good_share(self) -> bool {
        matches!(self, Self::Schema | Self::Grounded | Self::Similarity)
    }

    /// Alarm limits; rates in absolute points of the bad share, latency as a ratio to baseline.
    pub fn limits(self) -> Limits {
        match self {
            Self::Hallucination | Self::Refusal | Self::FalseRefusal | Self::Schema => Limits {
                warn: 0.03,
                critical: 0.08,
            },
            // A word-overlap proxy is noisier than an evaluator: it needs a larger move.
            Self::Grounded | Self::Feedback => Limits {
                warn: 0.05,
                critical: 0.12,
            },
            Self::Errors | Self::Timeouts | Self::RateLimits => Limits {
                warn: 0.02,
                critical: 0.05,
            },
            Self::LatencyP50 | Self::LatencyP95 | Self::LatencyP99 => Limits {
                warn: 1.5,
                critical: 2.0,
            },
            // A tenth of healthy texts is unlike the baseline by construction (its threshold's
            // quantile), and that share swings with the mix of request kinds more than a coin
            // would; a shift in what is asked or answered moves most texts at once.
            Self::Similarity | Self::InputDrift => Limits {
                warn: 0.15,
                critical: 0.25,
            },
            Self::Throughput => Limits {
                warn: 0.5,
                critical: 0.0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricState {
    /// Not enough baseline yet to judge.
    Learning,
    /// A baseline exists but too few recent calls carry this signal to judge it.
    FewSamples,
    Ok,
    Warn,
    Critical,
}

impl MetricState {
    pub fn is_alarm(self) -> bool {
        matches!(self, Self::Warn | Self::Critical)
    }
}

impl fmt::Display for MetricState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Learning => "learning",
            Self::FewSamples => "few samples",
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Critical => "critical",
        })
    }
}

/// One metric as of the last evaluation. Values are in display units: a share in 0..1 (for
/// Schema, the compliant share), milliseconds, or calls per minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricReading {
    pub id: MetricId,
    /// Over the last 5 minutes.
    pub now: Option<f64>,
    pub last_minute: Option<f64>,
    pub last_quarter_hour: Option<f64>,
    pub baseline: Option<f64>,
    /// `now − baseline`, in display units.
    pub delta: Option<f64>,
    /// Half-width of the 95% interval on `delta`, for rates.
    pub half_width: Option<f64>,
    /// Calls behind `now`.
    pub samples: u64,
    /// The worst of the service's state and every feature's: an incident on one feature is an
    /// incident.
    pub state: MetricState,
    /// The state over the whole service alone.
    pub service_state: MetricState,
    /// Which rule raised the alarm, when the metric is alarming: the worst part's.
    pub rule: Option<Rule>,
    /// The onset the service's change-point detector estimated, while its alarm is in force.
    pub change_onset: Option<DateTime<Utc>>,
    /// How many standard errors the change the state rests on is above the baseline.
    pub z: Option<f64>,
    /// One value a minute, oldest first, ending with the current minute.
    pub trend: Vec<Option<f64>>,
    /// The features on which this metric alarms on its own, the worst first.
    pub slices: Vec<SliceReading>,
}

/// One feature's reading of a metric that alarms on that feature: its values over the same
/// window as the service's, against its own baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceReading {
    pub slice: Slice,
    /// What the slice is, as the screen names it: "checkout-help", "checkout-help v4",
    /// "model gpt-4o".
    pub name: String,
    pub now: Option<f64>,
    pub baseline: Option<f64>,
    pub delta: Option<f64>,
    /// Calls behind `now`.
    pub samples: u64,
    pub state: MetricState,
    pub rule: Option<Rule>,
    pub change_onset: Option<DateTime<Utc>>,
    pub z: Option<f64>,
}

/// Whether an observation is bad for each of [`MetricId::RATES`], in that order.
pub fn rate_outcomes(obs: &Observation) -> [Option<bool>; MetricId::RATES.len()] {
    MetricId::RATES.map(|metric| metric.is_bad(obs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observation::Interner;
    use crate::model::Call;

    fn observation(output: &str, should_answer: bool) -> Observation {
        let call: Call = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T14:00:00Z", "feature": "support-answer",
            "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900,
            "output": output, "should_answer": should_answer,
            "context": ["[kb-201] Returns: unworn items can be returned within 30 days of delivery for a full refund."]
        }))
        .unwrap();
        Observation::from_call(
            &call,
            &Default::default(),
            &mut Interner::default(),
            &mut Default::default(),
        )
    }

    #[test]
    fn the_rates_are_every_metric_measured_as_a_rate_in_table_order() {
        let rates: Vec<MetricId> = MetricId::ALL
            .into_iter()
            .filter(|id| id.measure() == Measure::Rate)
            .collect();
        assert_eq!(rates, MetricId::RATES);
    }

    #[test]
    fn a_false_refusal_is_a_refusal_of_a_request_that_should_be_answered() {
        let refused_legit = observation("I'm sorry, but I can't help with that.", true);
        let refused_off_topic = observation("I'm sorry, but I can't help with that.", false);
        let answered = observation(
            "Unworn items can be returned within 30 days of delivery.",
            true,
        );
        assert_eq!(MetricId::FalseRefusal.is_bad(&refused_legit), Some(true));
        assert_eq!(MetricId::FalseRefusal.is_bad(&refused_off_topic), None);
        assert_eq!(MetricId::FalseRefusal.is_bad(&answered), Some(false));
        assert_eq!(MetricId::Refusal.is_bad(&refused_off_topic), Some(true));
    }

    #[test]
    fn groundedness_judges_answers_against_their_context_but_not_refusals() {
        let grounded = observation(
            "Unworn items can be returned within 30 days of delivery for a refund.",
            true,
        );
        let made_up = observation(
            "Worn items ship back free worldwide and refunds arrive within one hour.",
            true,
        );
        let refused = observation(
            "I'm sorry, but I can't help with tax questions at all.",
            true,
        );
        assert_eq!(MetricId::Grounded.is_bad(&grounded), Some(false));
        assert_eq!(MetricId::Grounded.is_bad(&made_up), Some(true));
        assert_eq!(MetricId::Grounded.is_bad(&refused), None);
    }
}
