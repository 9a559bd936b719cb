//! Change-point detection: a pair of Bernoulli CUSUMs per metric, tuned to a small and a large
//! rise over the learned baseline, whose thresholds come from a false-alarm budget.

pub mod arl;
pub mod cusum;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use self::cusum::{Cusum, CusumAlarm, CusumDesign};

/// How a metric's alarm was raised; the cockpit shows which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The CUSUM change-point detector.
    Cusum,
    /// The plain limit on the last window against the baseline.
    Threshold,
    Both,
    /// The team's own `[alerts]` threshold, crossed significantly.
    Alert,
}

impl Rule {
    pub fn label(self) -> &'static str {
        match self {
            Self::Cusum => "cusum",
            Self::Threshold => "limit",
            Self::Both => "both",
            Self::Alert => "alert",
        }
    }

    pub fn from_flags(cusum: bool, threshold: bool) -> Option<Self> {
        match (cusum, threshold) {
            (true, true) => Some(Self::Both),
            (true, false) => Some(Self::Cusum),
            (false, true) => Some(Self::Threshold),
            (false, false) => None,
        }
    }
}

/// The rises a detector pair is tuned to, above the baseline rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shifts {
    pub small: f64,
    pub large: f64,
}

/// Baseline rates are snapped to a 5% geometric grid so that a moving baseline re-tunes the
/// detectors only when it has really moved.
const GRID: f64 = 1.05;
/// Budgets are snapped to a coarser grid: a slice's share of the traffic drifts all day.
const BUDGET_GRID: f64 = 1.25;

/// Designs already solved, by their inputs: every engine in a process tunes to the same few
/// baseline rates, and a design is a pure function of them.
static DESIGNS: LazyLock<Mutex<HashMap<[u64; 3], CusumDesign>>> = LazyLock::new(Default::default);

fn designed(p0: f64, p1: f64, run_length: f64) -> CusumDesign {
    let key = [p0.to_bits(), p1.to_bits(), run_length.to_bits()];
    let cached = DESIGNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .copied();
    cached.unwrap_or_else(|| {
        let design = CusumDesign::calibrate(p0, p1, run_length);
        DESIGNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, design);
        design
    })
}

/// Two CUSUMs on one stream of good and bad calls. Each gets half the false-alarm budget, so
/// that by the union bound the pair alarms falsely at most once per `calls_per_false_alarm`.
#[derive(Debug, Clone)]
pub struct RateDetector {
    shifts: Shifts,
    calls_per_false_alarm: f64,
    grid_step: Option<(i32, i32)>,
    members: Vec<Cusum>,
}

impl RateDetector {
    pub fn new(shifts: Shifts, calls_per_false_alarm: f64) -> Self {
        Self {
            shifts,
            calls_per_false_alarm,
            grid_step: None,
            members: Vec::new(),
        }
    }

    /// Tunes the detectors to a baseline rate; cheap when the rate has not moved a grid step.
    pub fn arm(&mut self, p0: f64) {
        self.arm_with_budget(p0, self.calls_per_false_alarm);
    }

    /// Tunes the detectors to a baseline rate and a false-alarm budget of their own, in the calls
    /// they see: a slice of the traffic gets its share of the service's budget.
    pub fn arm_with_budget(&mut self, p0: f64, calls_per_false_alarm: f64) {
        let step = (p0.max(1e-4).ln() / GRID.ln()).round() as i32;
        let ratio = calls_per_false_alarm.max(1.0) / self.calls_per_false_alarm;
        let budget_step = (ratio.ln() / BUDGET_GRID.ln() - 1e-9).ceil() as i32;
        if self.grid_step == Some((step, budget_step)) {
            return;
        }
        self.grid_step = Some((step, budget_step));
        let p0 = GRID.powi(step);
        // Rounded up to the grid, so the false alarms stay within the budget.
        let budget = self.calls_per_false_alarm * BUDGET_GRID.powi(budget_step) * 2.0;
        let designs =
            [self.shifts.small, self.shifts.large].map(|shift| designed(p0, p0 + shift, budget));
        if self.members.is_empty() {
            self.members = designs.into_iter().map(Cusum::new).collect();
        } else {
            for (member, design) in self.members.iter_mut().zip(designs) {
                member.redesign(design);
            }
        }
    }

    pub fn is_armed(&self) -> bool {
        !self.members.is_empty()
    }

    /// Feeds one call; returns an alarm raised by this call.
    pub fn step(&mut self, ts: DateTime<Utc>, bad: bool) -> Option<CusumAlarm> {
        let mut raised = None;
        for member in &mut self.members {
            raised = raised.or(member.step(ts, bad));
        }
        raised
    }

    /// The alarm in force that was raised first. The member that fires first is the one tuned
    /// closest to the change, and its last reset is the sharpest estimate of the onset; the
    /// other's score may have been wandering above zero long before.
    pub fn alarm(&self) -> Option<CusumAlarm> {
        self.members
            .iter()
            .filter_map(Cusum::alarm)
            .min_by_key(|a| (a.at, std::cmp::Reverse(a.onset)))
    }

    /// The earliest run start among the members whose score has reached `level` of their
    /// threshold (see [`Cusum::suspected_since`]).
    pub fn suspected_since(&self, level: f64) -> Option<DateTime<Utc>> {
        self.members
            .iter()
            .filter_map(|m| m.suspected_since(level))
            .min()
    }

    pub fn designs(&self) -> Vec<CusumDesign> {
        self.members.iter().map(|m| *m.design()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;
    use chrono::Duration;

    fn start() -> DateTime<Utc> {
        "2026-03-14T13:00:00Z".parse().unwrap()
    }

    /// Mean calls from a change at call 0 to the pair's alarm, over seeded streams.
    fn mean_delay(p0: f64, p1: f64) -> f64 {
        let runs = 300;
        let mut armed = RateDetector::new(
            Shifts {
                small: 0.03,
                large: 0.20,
            },
            10_000.0,
        );
        armed.arm(p0);
        let total: i64 = (0..runs)
            .map(|seed| {
                let mut detector = armed.clone();
                let mut rng = Rng::new(seed);
                (0..)
                    .find(|i| {
                        detector
                            .step(start() + Duration::seconds(*i), rng.chance(p1))
                            .is_some()
                    })
                    .unwrap()
                    + 1
            })
            .sum();
        total as f64 / runs as f64
    }

    #[test]
    fn the_pair_detects_within_a_quarter_of_the_optimal_delay() {
        for (p0, p1, optimal) in [(0.04, 0.22, 29.7), (0.10, 0.30, 39.8), (0.02, 0.05, 239.0)] {
            let delay = mean_delay(p0, p1);
            assert!(
                delay <= optimal * 1.25,
                "{p0}→{p1}: {delay:.1} calls against {optimal}"
            );
        }
    }

    #[test]
    fn each_member_gets_half_the_budget() {
        let mut detector = RateDetector::new(
            Shifts {
                small: 0.03,
                large: 0.20,
            },
            10_000.0,
        );
        detector.arm(0.04);
        for design in detector.designs() {
            let run_length = design.run_length(design.p0);
            assert!((20_000.0..24_000.0).contains(&run_length), "{run_length}");
        }
    }
}
