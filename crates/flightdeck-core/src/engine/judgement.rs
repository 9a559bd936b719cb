//! How a metric is measured over a window and judged against its baseline: by the plain
//! limits, and by the change its detector found.

use super::detect::Rule;
use super::metrics::{Measure, MetricId, MetricState};
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

/// Least calls before a latency quantile is judged: about five calls beyond it, so that the p99
/// of a hundred calls, which is nearly their maximum, never alarms alone (it needs 500).
pub(super) fn min_calls_for_quantile(q: f64) -> u64 {
    ((5.0 / (1.0 - q)).round() as u64).max(MIN_RECENT)
}

/// Relative rise over the baseline's rate that opens an incident, beside the absolute floor.
const RELATIVE_RISE: f64 = 0.5;

/// The smallest rise of a rate metric that opens an incident, from its baseline `p0`: the warn
/// limit in points, or half the baseline rate when that is larger, so a noisy metric needs a
/// proportionate move and a quiet one only a few points.
pub(super) fn smallest_incident_rise(id: MetricId, p0: f64) -> f64 {
    id.limits().warn.max(RELATIVE_RISE * p0)
}

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
            } else if rn < min_calls_for_quantile(q) {
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

/// The limit rule's state, the change-point rule's and the alert threshold's, whichever is
/// worst, and which fired: the team's own threshold is named first, as it means most to them.
pub(super) fn combine(
    limit: Comparison,
    change: MetricState,
    alert: MetricState,
) -> (Comparison, Option<Rule>) {
    let judged = matches!(
        limit.state,
        MetricState::Ok | MetricState::Warn | MetricState::Critical
    );
    if !judged {
        return (limit, None);
    }
    let state = limit.state.max(change).max(alert);
    let rule = if alert.is_alarm() && alert == state {
        Some(Rule::Alert)
    } else {
        Rule::from_flags(
            change.is_alarm() && change == state,
            limit.state.is_alarm() && limit.state == state,
        )
    };
    (Comparison { state, ..limit }, rule)
}

/// Least calls since a detected onset before the change alone can make a metric critical: a
/// chance cluster of bad calls trips the detector now and then, but does not last.
const MIN_CALLS_FOR_CRITICAL_CHANGE: u64 = 60;

/// Significance of the change since the onset before it opens an incident. The detectors alarm
/// at about 3σ of evidence; a real change keeps accumulating it, a chance cluster does not.
const INCIDENT_Z: f64 = 4.0;

/// The calls behind a detector's alarm: all of them since its onset, and the recent part.
#[derive(Debug, Clone, Default)]
pub(super) struct ChangeEvidence {
    pub since_onset: WindowStats,
    pub recent: WindowStats,
}

/// How far a metric has moved since the onset its detector found, and the z of that move: warn
/// once it exceeds the smallest rise that matters for its baseline, critical once that rise is
/// significant on enough calls; either only while the recent calls still show at least half
/// the rise, so a mitigated change clears without waiting for the detector to.
pub(super) fn judge_change(
    id: MetricId,
    evidence: &mut ChangeEvidence,
    baseline: BaselineStat,
) -> (MetricState, Option<f64>) {
    let limits = id.limits();
    match (id.measure(), baseline) {
        (Measure::Rate, BaselineStat::Rate(b)) => {
            let r = evidence.since_onset.proportion(id);
            let (Some(d), Some(p0)) = (rate_delta(r, b), b.rate()) else {
                return (MetricState::Ok, None);
            };
            // A proxy that only joins incidents keeps its fixed limits.
            let (rise, critical_rise) = if id.opens_incident() {
                let rise = smallest_incident_rise(id, p0);
                (rise, rise)
            } else {
                (limits.warn, limits.critical)
            };
            let holding = evidence
                .recent
                .proportion(id)
                .rate()
                .is_some_and(|recent| recent - p0 >= rise / 2.0);
            let significant = d.z >= INCIDENT_Z;
            // The proxies' shares swing with the mix of requests more than a coin would, so a
            // chance cluster trips their detectors more often: their warning has to be
            // significant too.
            let warn_significant = significant || id.opens_incident();
            let state = if !holding || d.delta < rise {
                MetricState::Ok
            } else if significant
                && r.n >= MIN_CALLS_FOR_CRITICAL_CHANGE
                && d.delta >= critical_rise
            {
                MetricState::Critical
            } else if warn_significant && r.n >= MIN_RECENT {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            (state, Some(d.z))
        }
        (Measure::Latency(q), BaselineStat::Latency { value: Some(b), .. }) => {
            let n = evidence.since_onset.succeeded();
            let (Some(r), Some(recent)) =
                (evidence.since_onset.latency(q), evidence.recent.latency(q))
            else {
                return (MetricState::Ok, None);
            };
            let (ratio, recent_ratio) = (r / b.max(1.0), recent / b.max(1.0));
            let elevated = ratio >= limits.warn && recent_ratio >= limits.warn;
            let state = if !elevated {
                MetricState::Ok
            } else if n >= min_calls_for_quantile(q) && n >= MIN_CALLS_FOR_CRITICAL_CHANGE {
                MetricState::Critical
            } else if n >= MIN_RECENT {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            (state, None)
        }
        _ => (MetricState::Ok, None),
    }
}

/// The team's `[alerts]` threshold on a rate metric, as the bad share (a compliance floor of 97%
/// is a 3% violation ceiling), crossed significantly by a window that had been under it.
pub(super) fn judge_alert(
    id: MetricId,
    recent: Proportion,
    baseline: Proportion,
    threshold: f64,
) -> (MetricState, Option<f64>) {
    let ceiling = if id.shows_good_share() {
        1.0 - threshold
    } else {
        threshold
    };
    let (Some(rate), Some(base)) = (recent.rate(), baseline.rate()) else {
        return (MetricState::Ok, None);
    };
    // A baseline already over the threshold is a standing condition, not an incident.
    if base >= ceiling || recent.n < MIN_RECENT || !(0.0..1.0).contains(&ceiling) {
        return (MetricState::Ok, None);
    }
    let se = (ceiling.max(0.5 / recent.n as f64) * (1.0 - ceiling) / recent.n as f64).sqrt();
    let z = (rate - ceiling) / se;
    let state = if z >= INCIDENT_Z {
        MetricState::Critical
    } else if z >= 3.0 {
        MetricState::Warn
    } else {
        MetricState::Ok
    };
    (state, Some(z))
}

/// Whether a metric is still worse than its baseline by the warn limit.
pub(super) fn worse_than_warn(id: MetricId, delta: Option<f64>, baseline: Option<f64>) -> bool {
    let (Some(delta), Some(base)) = (delta, baseline) else {
        return false;
    };
    let warn = id.limits().warn;
    match id.measure() {
        Measure::Rate if id.shows_good_share() => -delta >= warn,
        Measure::Rate => delta >= warn,
        Measure::Latency(_) => base > 0.0 && (base + delta) / base >= warn,
        Measure::Throughput => false,
    }
}
