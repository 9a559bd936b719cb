//! The change-point detectors of every metric that has them, fed call by call: one set over the
//! whole service and one per feature, sharing the service's false-alarm budget.

use super::detect::RateDetector;
use super::detect::cusum::CusumAlarm;
use super::metrics::{Measure, MetricId};
use super::observation::{Dimension, Observation, Symbol};
use super::stats::Proportion;
use super::window::WindowStats;
use crate::model::CallStatus;
use chrono::{DateTime, Utc};

/// Which calls a detector watches: all of them, or one feature's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slice {
    Service,
    Feature(Symbol),
}

impl Slice {
    /// Whether an observation belongs to the slice.
    pub fn contains(self, observation: &Observation) -> bool {
        match self {
            Self::Service => true,
            Self::Feature(feature) => observation.dimension(Dimension::Feature) == Some(feature),
        }
    }

    pub fn feature(self) -> Option<Symbol> {
        match self {
            Self::Service => None,
            Self::Feature(feature) => Some(feature),
        }
    }
}

/// An alarm in force and the slice whose detector raised it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceAlarm {
    pub slice: Slice,
    pub alarm: CusumAlarm,
}

/// What the detectors are tuned to, learned from the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// The bad share the detector treats as normal.
    pub p0: f64,
    /// For latency: the baseline's p95, above which a call counts as slow.
    pub slow_above_ms: Option<f64>,
    /// Baseline calls that carried the signal: the slice's share of the budget follows them.
    pub calls: u64,
}

#[derive(Debug, Clone)]
struct Watched {
    id: MetricId,
    detector: RateDetector,
    slow_above_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct SliceDetectors {
    slice: Slice,
    watched: Vec<Watched>,
}

impl SliceDetectors {
    fn new(slice: Slice, calls_per_false_alarm: f64) -> Self {
        let watched = MetricId::ALL
            .iter()
            .filter(|id| slice == Slice::Service || is_sliced(**id))
            .filter_map(|id| {
                id.shifts().map(|shifts| Watched {
                    id: *id,
                    detector: RateDetector::new(shifts, calls_per_false_alarm),
                    slow_above_ms: None,
                })
            })
            .collect();
        Self { slice, watched }
    }

    fn step(&mut self, observation: &Observation) -> bool {
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

    fn alarm(&self, id: MetricId) -> Option<CusumAlarm> {
        self.watched
            .iter()
            .find(|w| w.id == id)
            .and_then(|w| w.detector.alarm())
    }
}

/// Whether a metric is also watched per feature. Similarity and Input drift are judged against
/// the service's own held-out references, and only join an incident a failure opened.
fn is_sliced(id: MetricId) -> bool {
    id.opens_incident()
}

/// A slice's detectors are never tuned to alarm more often than once in this many of its calls:
/// a sliver of the traffic would otherwise get a detector that fires on a handful of calls.
const MIN_SLICE_RUN_LENGTH: f64 = 1_000.0;

#[derive(Debug, Clone)]
pub struct ChangePoints {
    calls_per_false_alarm: f64,
    /// The whole service first, then each feature with enough baseline traffic to be judged.
    slices: Vec<SliceDetectors>,
}

impl ChangePoints {
    pub fn new(calls_per_false_alarm: f64) -> Self {
        Self {
            calls_per_false_alarm,
            slices: vec![SliceDetectors::new(Slice::Service, calls_per_false_alarm)],
        }
    }

    /// Tunes each metric's detectors to the baseline: the service's over all its calls, each
    /// feature's over its own. With k slices watching a metric, the service's budget is split so
    /// that the false alarms of all of them together stay within it: a slice that sees a share
    /// s of the metric's calls gets a run length of k·s times the budget, in its own calls.
    pub fn arm(&mut self, service: &mut WindowStats, features: &mut [(Symbol, WindowStats)]) {
        let sliced = features.len() >= 2;
        if !sliced {
            self.slices.truncate(1);
        } else {
            let known: Vec<Symbol> = features.iter().map(|(f, _)| *f).collect();
            self.slices.retain(|s| {
                s.slice
                    .feature()
                    .is_none_or(|feature| known.contains(&feature))
            });
            for feature in known {
                if !self
                    .slices
                    .iter()
                    .any(|s| s.slice == Slice::Feature(feature))
                {
                    self.slices.push(SliceDetectors::new(
                        Slice::Feature(feature),
                        self.calls_per_false_alarm,
                    ));
                }
            }
        }
        let budget = self.calls_per_false_alarm;
        for id in MetricId::ALL {
            if id.shifts().is_none() {
                continue;
            }
            let Some(whole) = tuning(id, service) else {
                continue;
            };
            let per_feature: Vec<(Symbol, Tuning)> = if sliced && is_sliced(id) {
                features
                    .iter_mut()
                    .filter_map(|(feature, stats)| Some((*feature, tuning(id, stats)?)))
                    .collect()
            } else {
                Vec::new()
            };
            let watchers = 1.0 + per_feature.len() as f64;
            self.arm_slice(Slice::Service, id, whole, watchers * budget);
            for (feature, tuned) in per_feature {
                let share = tuned.calls as f64 / whole.calls.max(1) as f64;
                let run_length = (watchers * share * budget).max(MIN_SLICE_RUN_LENGTH);
                self.arm_slice(Slice::Feature(feature), id, tuned, run_length);
            }
        }
    }

    fn arm_slice(&mut self, slice: Slice, id: MetricId, tuned: Tuning, run_length: f64) {
        let watched = self
            .slices
            .iter_mut()
            .find(|s| s.slice == slice)
            .and_then(|s| s.watched.iter_mut().find(|w| w.id == id));
        if let Some(watched) = watched {
            watched.detector.arm_with_budget(tuned.p0, run_length);
            watched.slow_above_ms = tuned.slow_above_ms;
        }
    }

    /// Tunes the service's detector of one rate metric to a baseline count taken elsewhere than
    /// the calls; such metrics are not watched per feature.
    pub fn arm_rate(&mut self, id: MetricId, share: Proportion) {
        if let Some(p0) = guarded_rate(share) {
            self.arm_slice(
                Slice::Service,
                id,
                Tuning {
                    p0,
                    slow_above_ms: None,
                    calls: share.n,
                },
                self.calls_per_false_alarm,
            );
        }
    }

    /// Feeds one call to the service's detectors and its feature's; returns whether one raised
    /// an alarm.
    pub fn step(&mut self, observation: &Observation) -> bool {
        let feature = observation.dimension(Dimension::Feature);
        let mut raised = false;
        for slice in &mut self.slices {
            let mine = match slice.slice {
                Slice::Service => true,
                Slice::Feature(f) => Some(f) == feature,
            };
            if mine {
                raised |= slice.step(observation);
            }
        }
        raised
    }

    /// Every alarm in force on a metric, the service's first.
    pub fn alarms(&self, id: MetricId) -> impl Iterator<Item = SliceAlarm> + '_ {
        self.slices.iter().filter_map(move |s| {
            s.alarm(id).map(|alarm| SliceAlarm {
                slice: s.slice,
                alarm,
            })
        })
    }

    /// Since when a feature's calls are under suspicion: the earliest start of a run that has
    /// climbed halfway to its detector's threshold, over the feature's metrics. A quiet
    /// feature's detector takes long to alarm, and its baseline must not learn the change
    /// meanwhile, or the change is absorbed before it is seen.
    pub fn suspected_since(&self, feature: Symbol) -> Option<DateTime<Utc>> {
        self.slices
            .iter()
            .find(|s| s.slice == Slice::Feature(feature))?
            .watched
            .iter()
            .filter_map(|w| w.detector.suspected_since(SUSPECT_LEVEL))
            .min()
    }

    /// How many slices are watched, the service included.
    pub fn slice_count(&self) -> usize {
        self.slices.len()
    }
}

/// The share of its threshold at which a detector's run puts its calls under suspicion.
const SUSPECT_LEVEL: f64 = 0.75;

/// Least baseline calls carrying a signal before its detector is armed.
const MIN_TUNING_CALLS: u64 = 50;

/// The normal bad share of a metric over a slice's baseline (see [`guarded_rate`]); for latency,
/// the share of successful calls slower than the baseline's p95.
fn tuning(id: MetricId, baseline: &mut WindowStats) -> Option<Tuning> {
    let (share, slow_above_ms) = match id.measure() {
        Measure::Rate => (baseline.proportion(id), None),
        Measure::Latency(_) => {
            let (p95, share) = baseline.share_slower_than_quantile(0.95)?;
            (share, Some(p95))
        }
        Measure::Throughput => return None,
    };
    Some(Tuning {
        p0: guarded_rate(share)?,
        slow_above_ms,
        calls: share.n,
    })
}

/// The rate a detector treats as normal, learned from a baseline's count: raised by one
/// standard error so that a baseline that happens to look better than the truth does not turn
/// into false alarms; a rare signal is taken as at least three more bad calls than seen (the
/// rule of three for a zero count).
pub fn guarded_rate(share: Proportion) -> Option<f64> {
    if share.n < MIN_TUNING_CALLS {
        return None;
    }
    let n = share.n as f64;
    let rate = share.rate()?;
    Some((rate + (rate * (1.0 - rate) / n).sqrt()).max((share.bad as f64 + 3.0) / n))
}
