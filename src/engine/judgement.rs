//! How a metric is measured over a window and judged against its baseline: by the plain
//! limits, and by the change its detector found.

use super::detect::Rule;
use super::metrics::{Measure, MetricId, MetricReading, MetricState};
use super::stats::{Proportion, rate_delta};
use super::window::WindowStats;

/// A metric's value in display units over some observations, and how many calls it rests on.
pub(super) fn measure(id: MetricId, window: &mut WindowStats, minutes: f64) -> (Option<f64>, u64) {
    match id.measure() {
        Measure::Rate => {
            let p = window.proportion(id);
            let value = p
                .rate()
                .map(|r| if id.shows_good_share() { 1.0 - r } else { r });
            (value, p.n)
        }
        Measure::Latency(q) => (window.latency(q), window.succeeded()),
        Measure::Throughput => {
            let n = window.calls();
            (Some(n as f64 / minutes), n)
        }
    }
}

/// Least calls in a window before a rate or a latency is judged.
const MIN_RECENT: u64 = 20;
const MIN_BASELINE: u64 = 50;

/// The recent window against the baseline, in display units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Comparison {
    pub baseline: Option<f64>,
    pub state: MetricState,
    pub delta: Option<f64>,
    /// Half-width of the 95% interval on `delta`, for rates.
    pub half_width: Option<f64>,
}

impl Default for Comparison {
    fn default() -> Self {
        Self {
            baseline: None,
            state: MetricState::Learning,
            delta: None,
            half_width: None,
        }
    }
}

/// What a metric's judgement needs from the baseline window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum BaselineStat {
    Rate(Proportion),
    /// The baseline percentile over the calls that succeeded, and how many there were.
    Latency {
        value: Option<f64>,
        n: u64,
    },
    Calls(u64),
}

impl BaselineStat {
    pub(super) fn of(id: MetricId, baseline: &mut WindowStats) -> Self {
        match id.measure() {
            Measure::Rate => Self::Rate(baseline.proportion(id)),
            Measure::Latency(q) => Self::Latency {
                n: baseline.succeeded(),
                value: baseline.latency(q),
            },
            Measure::Throughput => Self::Calls(baseline.calls()),
        }
    }
}

pub(super) fn judge(
    id: MetricId,
    recent: &mut WindowStats,
    baseline: BaselineStat,
    baseline_minutes: f64,
    recent_minutes: f64,
) -> Comparison {
    let limits = id.limits();
    match baseline {
        BaselineStat::Rate(b) => {
            let r = recent.proportion(id);
            let shown = |rate: f64| {
                if id.shows_good_share() {
                    1.0 - rate
                } else {
                    rate
                }
            };
            let Some(d) = rate_delta(r, b) else {
                return Comparison {
                    baseline: b.rate().map(shown),
                    ..Comparison::default()
                };
            };
            let sign = if id.shows_good_share() { -1.0 } else { 1.0 };
            let state = if b.n < MIN_BASELINE {
                MetricState::Learning
            } else if r.n < MIN_RECENT {
                MetricState::FewSamples
            } else if d.delta >= limits.critical && d.z >= 4.0 {
                MetricState::Critical
            } else if d.delta >= limits.warn && d.z >= 3.0 {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: b.rate().map(shown),
                state,
                delta: Some(sign * d.delta),
                half_width: Some(d.half_width),
            }
        }
        BaselineStat::Latency { value, n: bn } => {
            let Measure::Latency(q) = id.measure() else {
                return Comparison::default();
            };
            let rn = recent.succeeded();
            let (Some(rv), Some(bv)) = (recent.latency(q), value) else {
                return Comparison::default();
            };
            let ratio = rv / bv;
            let state = if bn < MIN_BASELINE {
                MetricState::Learning
            } else if rn < MIN_RECENT {
                MetricState::FewSamples
            } else if ratio >= limits.critical {
                MetricState::Critical
            } else if ratio >= limits.warn {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: Some(bv),
                state,
                delta: Some(rv - bv),
                half_width: None,
            }
        }
        BaselineStat::Calls(calls) => {
            let rate = recent.calls() as f64 / recent_minutes;
            let base = calls as f64 / baseline_minutes;
            let state = if base <= 0.0 {
                MetricState::Learning
            } else if rate < limits.warn * base {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            Comparison {
                baseline: Some(base),
                state,
                delta: Some(rate - base),
                half_width: None,
            }
        }
    }
}

/// The limit rule's state and the change-point rule's, whichever is worse, and which fired.
pub(super) fn combine(limit: Comparison, change: MetricState) -> (Comparison, Option<Rule>) {
    let judged = matches!(
        limit.state,
        MetricState::Ok | MetricState::Warn | MetricState::Critical
    );
    if !judged {
        return (limit, None);
    }
    let state = limit.state.max(change);
    let rule = Rule::from_flags(
        change.is_alarm() && change == state,
        limit.state.is_alarm() && limit.state == state,
    );
    (Comparison { state, ..limit }, rule)
}

/// Least calls since a detected onset before the change alone can make a metric critical: a
/// chance cluster of bad calls trips the detector now and then, but does not last.
const MIN_CALLS_FOR_CRITICAL_CHANGE: u64 = 60;

/// How far a metric has moved since the onset its detector found (at most one window back): warn
/// once the change exceeds the warn limit, critical once it exceeds the critical limit on enough
/// calls, significantly.
pub(super) fn judge_change(
    id: MetricId,
    since_onset: &mut WindowStats,
    baseline: BaselineStat,
) -> MetricState {
    let limits = id.limits();
    let (effect, n, significant) = match (id.measure(), baseline) {
        (Measure::Rate, BaselineStat::Rate(b)) => {
            let r = since_onset.proportion(id);
            let Some(d) = rate_delta(r, b) else {
                return MetricState::Ok;
            };
            (d.delta, r.n, d.z >= 4.0)
        }
        (Measure::Latency(q), BaselineStat::Latency { value: Some(b), .. }) => {
            let n = since_onset.succeeded();
            let Some(r) = since_onset.latency(q) else {
                return MetricState::Ok;
            };
            (r / b.max(1.0), n, true)
        }
        _ => return MetricState::Ok,
    };
    // The proxies' shares swing with the mix of requests more than a coin would, so a chance
    // cluster trips their detectors more often: their warning has to be significant too.
    let warn_significant = significant || id.opens_incident();
    if effect >= limits.critical && significant && n >= MIN_CALLS_FOR_CRITICAL_CHANGE {
        MetricState::Critical
    } else if effect >= limits.warn && warn_significant && n >= MIN_RECENT {
        MetricState::Warn
    } else {
        MetricState::Ok
    }
}

/// Whether a reading is still worse than its baseline by the warn limit.
pub(super) fn worse_than_warn(reading: &MetricReading) -> bool {
    let (Some(delta), Some(base)) = (reading.delta, reading.baseline) else {
        return false;
    };
    let warn = reading.id.limits().warn;
    match reading.id.measure() {
        Measure::Rate if reading.id.shows_good_share() => -delta >= warn,
        Measure::Rate => delta >= warn,
        Measure::Latency(_) => base > 0.0 && (base + delta) / base >= warn,
        Measure::Throughput => false,
    }
}
