//! The change-point detectors of every metric that has them, fed call by call: one set over the
//! whole service and one per feature, sharing the service's false-alarm budget.

use super::detect::RateDetector;
use super::detect::cusum::CusumAlarm;
use super::metrics::{Measure, MetricId};
use super::observation::{Dimension, Interner, Observation, Symbol};
use super::stats::Proportion;
use super::window::WindowStats;
use crate::model::CallStatus;
use chrono::{DateTime, Duration, Utc};

/// Which calls a detector watches: all of them, one feature's, those of a prompt version that a
/// feature serves beside another (a canary), or those requesting one model, across features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slice {
    Service,
    Feature(Symbol),
    Version {
        feature: Symbol,
        version: Symbol,
    },
    /// The model requested: a provider's update under one name reaches every feature using it.
    Model(Symbol),
}

impl Slice {
    /// Whether an observation belongs to the slice.
    pub fn contains(self, observation: &Observation) -> bool {
        let feature = || observation.dimension(Dimension::Feature);
        match self {
            Self::Service => true,
            Self::Feature(f) => feature() == Some(f),
            Self::Version {
                feature: f,
                version,
            } => {
                feature() == Some(f)
                    && observation.dimension(Dimension::PromptVersion) == Some(version)
            }
            Self::Model(model) => observation.dimension(Dimension::ModelRequested) == Some(model),
        }
    }

    pub fn feature(self) -> Option<Symbol> {
        match self {
            Self::Service | Self::Model(_) => None,
            Self::Feature(feature) | Self::Version { feature, .. } => Some(feature),
        }
    }

    /// "checkout-help", "checkout-help v4", "model gpt-4o", or nothing for the service.
    pub fn name(self, interner: &Interner) -> String {
        match self {
            Self::Service => String::new(),
            Self::Feature(feature) => interner.name(feature).to_string(),
            Self::Version { feature, version } => {
                format!("{} {}", interner.name(feature), interner.name(version))
            }
            Self::Model(model) => format!("model {}", interner.name(model)),
        }
    }
}

/// A prompt version a feature served, and when.
#[derive(Debug, Clone, Copy)]
struct LiveVersion {
    feature: Symbol,
    version: Symbol,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// A version is live while it served a call this recently.
const LIVE_FOR: Duration = Duration::minutes(15);

/// How long after it first served a call a new version keeps a detector of its own: a quiet
/// canary's regression can take that long to show, and by then it is the feature's baseline.
const CANARY_WATCH: Duration = Duration::hours(3);

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

    fn alarming_or_suspected(&self) -> bool {
        self.watched.iter().any(|w| {
            w.detector.alarm().is_some() || w.detector.suspected_since(SUSPECT_LEVEL).is_some()
        })
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
    /// The whole service first, then each feature with enough baseline traffic to be judged,
    /// then each canary version.
    slices: Vec<SliceDetectors>,
    /// Every (feature, prompt version) seen in the last [`CANARY_WATCH`].
    versions: Vec<LiveVersion>,
    /// When the detectors were first armed: a version live before then is not new.
    armed_at: Option<DateTime<Utc>>,
}

impl ChangePoints {
    pub fn new(calls_per_false_alarm: f64) -> Self {
        Self {
            calls_per_false_alarm,
            slices: vec![SliceDetectors::new(Slice::Service, calls_per_false_alarm)],
            versions: Vec::new(),
            armed_at: None,
        }
    }

    /// The prompt versions that first served calls after the detectors were armed, in the
    /// last [`CANARY_WATCH`], while another version of the same feature is still live: a
    /// canary, whose regression its feature's detector sees diluted by the old version's calls.
    fn canaries(&self, now: DateTime<Utc>) -> Vec<Slice> {
        let live = |v: &LiveVersion| now - v.last_seen <= LIVE_FOR;
        self.versions
            .iter()
            .filter(|v| {
                self.armed_at.is_some_and(|armed| v.first_seen > armed)
                    && now - v.first_seen <= CANARY_WATCH
                    && live(v)
                    && self.versions.iter().any(|other| {
                        other.feature == v.feature && other.version != v.version && live(other)
                    })
            })
            .map(|v| Slice::Version {
                feature: v.feature,
                version: v.version,
            })
            .collect()
    }

    /// Notes the (feature, version) of a call, for [`Self::canaries`].
    fn see_version(&mut self, observation: &Observation) {
        let (Some(feature), Some(version)) = (
            observation.dimension(Dimension::Feature),
            observation.dimension(Dimension::PromptVersion),
        ) else {
            return;
        };
        match self
            .versions
            .iter_mut()
            .find(|v| v.feature == feature && v.version == version)
        {
            Some(seen) => seen.last_seen = seen.last_seen.max(observation.ts),
            None => self.versions.push(LiveVersion {
                feature,
                version,
                first_seen: observation.ts,
                last_seen: observation.ts,
            }),
        }
    }

    /// Tunes each metric's detectors to the baseline: the service's over all its calls, each
    /// group's (a feature, or a requested model, when there are two or more) over its own. With k slices watching a metric, the service's budget is split so
    /// that the false alarms of all of them together stay within it: a slice that sees a share
    /// s of the metric's calls gets a run length of k·s times the budget, in its own calls.
    ///
    /// A canary version is tuned to its feature's baseline, since it has none of its own, and
    /// its budget is its feature's: its calls are fewer, so together they stay within it.
    pub fn arm(
        &mut self,
        service: &mut WindowStats,
        groups: &mut [(Slice, WindowStats)],
        now: DateTime<Utc>,
    ) {
        self.armed_at.get_or_insert(now);
        self.versions.retain(|v| now - v.last_seen <= CANARY_WATCH);
        let known: Vec<Slice> = groups.iter().map(|(slice, _)| *slice).collect();
        let is_known_feature =
            |feature: Option<Symbol>| feature.is_some_and(|f| known.contains(&Slice::Feature(f)));
        let canaries: Vec<Slice> = self
            .canaries(now)
            .into_iter()
            .filter(|c| is_known_feature(c.feature()))
            .collect();
        // A version's detector that is alarming or under suspicion outlives the canary.
        self.slices.retain(|s| match s.slice {
            Slice::Service => true,
            Slice::Feature(_) | Slice::Model(_) => known.contains(&s.slice),
            Slice::Version { feature, .. } => {
                is_known_feature(Some(feature))
                    && (canaries.contains(&s.slice) || s.alarming_or_suspected())
            }
        });
        for slice in known.iter().chain(&canaries) {
            if !self.slices.iter().any(|s| s.slice == *slice) {
                self.slices
                    .push(SliceDetectors::new(*slice, self.calls_per_false_alarm));
            }
        }
        let versions: Vec<Slice> = self
            .slices
            .iter()
            .map(|s| s.slice)
            .filter(|s| matches!(s, Slice::Version { .. }))
            .collect();
        let budget = self.calls_per_false_alarm;
        for id in MetricId::ALL {
            if id.shifts().is_none() {
                continue;
            }
            let Some(whole) = tuning(id, service) else {
                continue;
            };
            let per_group: Vec<(Slice, Tuning)> = if is_sliced(id) {
                groups
                    .iter_mut()
                    .filter_map(|(slice, stats)| Some((*slice, tuning(id, stats)?)))
                    .collect()
            } else {
                Vec::new()
            };
            let canaries: Vec<(Slice, Tuning)> = versions
                .iter()
                .filter_map(|slice| {
                    let feature = Slice::Feature(slice.feature()?);
                    let (_, tuned) = per_group.iter().find(|(g, _)| *g == feature)?;
                    Some((*slice, *tuned))
                })
                .collect();
            let watchers = 1.0 + (per_group.len() + canaries.len()) as f64;
            self.arm_slice(Slice::Service, id, whole, watchers * budget);
            for (slice, tuned) in per_group.into_iter().chain(canaries) {
                let share = tuned.calls as f64 / whole.calls.max(1) as f64;
                let run_length = (watchers * share * budget).max(MIN_SLICE_RUN_LENGTH);
                self.arm_slice(slice, id, tuned, run_length);
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
        self.see_version(observation);
        let mut raised = false;
        for slice in &mut self.slices {
            if slice.slice.contains(observation) {
                raised |= slice.step(observation);
            }
        }
        raised
    }

    /// The slices watched beside the service: features, then canary versions.
    pub fn slices(&self) -> impl Iterator<Item = Slice> + '_ {
        self.slices.iter().skip(1).map(|s| s.slice)
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

    /// Since when a group's calls (a feature's, its canaries' included, or a requested model's)
    /// are under suspicion: the earliest start of a run that has climbed to [`SUSPECT_LEVEL`] of
    /// its detector's threshold, over the group's metrics. A quiet group's detector takes long
    /// to alarm, and its baseline must not learn the change meanwhile, or the change is
    /// absorbed before it is seen.
    pub fn suspected_since(&self, group: Slice) -> Option<DateTime<Utc>> {
        let within = |slice: Slice| match group {
            Slice::Feature(feature) => slice.feature() == Some(feature),
            _ => slice == group,
        };
        self.slices
            .iter()
            .filter(|s| within(s.slice))
            .flat_map(|s| &s.watched)
            .filter_map(|w| w.detector.suspected_since(SUSPECT_LEVEL))
            .min()
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
