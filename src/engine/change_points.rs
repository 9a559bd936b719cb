//! The change-point detectors of every metric that has them, fed call by call.

use super::detect::RateDetector;
use super::detect::cusum::CusumAlarm;
use super::metrics::{Measure, MetricId};
use super::observation::Observation;
use super::stats::{Proportion, percentile};
use crate::model::CallStatus;

/// What the detectors are tuned to, learned from the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// The bad share the detector treats as normal.
    pub p0: f64,
    /// For latency: the baseline's p95, above which a call counts as slow.
    pub slow_above_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct Watched {
    id: MetricId,
    detector: RateDetector,
    slow_above_ms: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct ChangePoints {
    watched: Vec<Watched>,
}

impl ChangePoints {
    pub fn new(calls_per_false_alarm: f64) -> Self {
        let watched = MetricId::ALL
            .iter()
            .filter_map(|id| {
                id.shifts().map(|shifts| Watched {
                    id: *id,
                    detector: RateDetector::new(shifts, calls_per_false_alarm),
                    slow_above_ms: None,
                })
            })
            .collect();
        Self { watched }
    }

    /// Tunes each metric's detector to the baseline's observations.
    pub fn arm<'a>(&mut self, baseline: impl Iterator<Item = &'a Observation> + Clone) {
        for watched in &mut self.watched {
            if let Some(tuning) = tuning(watched.id, baseline.clone()) {
                watched.detector.arm(tuning.p0);
                watched.slow_above_ms = tuning.slow_above_ms;
            }
        }
    }

    /// Tunes one rate metric's detector to a baseline count taken elsewhere than the calls.
    pub fn arm_rate(&mut self, id: MetricId, share: Proportion) {
        if let Some(watched) = self.watched.iter_mut().find(|w| w.id == id)
            && let Some(p0) = guarded_rate(share)
        {
            watched.detector.arm(p0);
        }
    }

    /// Feeds one call to every armed detector; returns whether one raised an alarm.
    pub fn step(&mut self, observation: &Observation) -> bool {
        let mut raised = false;
        for watched in &mut self.watched {
            if !watched.detector.is_armed() {
                continue;
            }
            let bad = match watched.id.measure() {
                Measure::Latency(_) => (observation.status == CallStatus::Ok).then(|| {
                    watched
                        .slow_above_ms
                        .is_some_and(|limit| observation.latency_ms > limit)
                }),
                _ => watched.id.is_bad(observation),
            };
            if let Some(bad) = bad {
                raised |= watched.detector.step(observation.ts, bad).is_some();
            }
        }
        raised
    }

    /// The alarm in force on a metric.
    pub fn alarm(&self, id: MetricId) -> Option<CusumAlarm> {
        self.watched
            .iter()
            .find(|w| w.id == id)
            .and_then(|w| w.detector.alarm())
    }
}

/// Least baseline calls carrying a signal before its detector is armed.
const MIN_TUNING_CALLS: u64 = 50;

/// The normal bad share of a metric, raised by one standard error so that a baseline that
/// happens to look better than the truth does not turn into false alarms; a rare signal is
/// taken as at least three more bad calls than seen (the rule of three for a zero count).
fn tuning<'a>(id: MetricId, baseline: impl Iterator<Item = &'a Observation>) -> Option<Tuning> {
    let mut share = Proportion::default();
    let mut slow_above_ms = None;
    match id.measure() {
        Measure::Rate => baseline
            .filter_map(|o| id.is_bad(o))
            .for_each(|bad| share.add(bad)),
        Measure::Latency(_) => {
            let mut latencies: Vec<f64> = baseline
                .filter(|o| o.status == CallStatus::Ok)
                .map(|o| o.latency_ms)
                .collect();
            let p95 = percentile(&mut latencies, 0.95)?;
            latencies.iter().for_each(|l| share.add(*l > p95));
            slow_above_ms = Some(p95);
        }
        Measure::Throughput => return None,
    }
    Some(Tuning {
        p0: guarded_rate(share)?,
        slow_above_ms,
    })
}

/// The rate a detector treats as normal, learned from a baseline's count (see [`tuning`]).
pub fn guarded_rate(share: Proportion) -> Option<f64> {
    if share.n < MIN_TUNING_CALLS {
        return None;
    }
    let n = share.n as f64;
    let rate = share.rate()?;
    Some((rate + (rate * (1.0 - rate) / n).sqrt()).max((share.bad as f64 + 3.0) / n))
}
