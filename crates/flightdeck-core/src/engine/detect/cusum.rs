//! A Bernoulli CUSUM on an integer lattice, so that its false-alarm rate is computed exactly
//! rather than approximated.

use chrono::{DateTime, Utc};

use super::arl;

/// Steps of the log-likelihood ratio of a rise from `p0` to `p1`, rounded to a lattice fine
/// enough that the larger step spans about this many units.
const UNITS_PER_LARGE_STEP: f64 = 30.0;

/// A CUSUM tuned to detect a rise from `p0` to `p1` with a given in-control run length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumDesign {
    pub p0: f64,
    pub p1: f64,
    /// Added on a bad call, in lattice units.
    pub up: u32,
    /// Subtracted on a good call, in lattice units.
    pub down: u32,
    /// The score at which the CUSUM alarms, in lattice units.
    pub threshold: u32,
    /// Nats per lattice unit.
    pub unit: f64,
}

impl CusumDesign {
    /// The design whose expected calls between false alarms at `p0` is at least `run_length`.
    pub fn calibrate(p0: f64, p1: f64, run_length: f64) -> Self {
        let p0 = p0.clamp(1e-4, 0.98);
        let p1 = p1.clamp(p0 * 1.05, 0.995);
        let rise = (p1 / p0).ln();
        let fall = ((1.0 - p0) / (1.0 - p1)).ln();
        let (up, down, unit) = if rise >= fall {
            let down = (UNITS_PER_LARGE_STEP * fall / rise).round().max(1.0);
            let unit = fall / down;
            ((rise / unit).round(), down, unit)
        } else {
            let up = (UNITS_PER_LARGE_STEP * rise / fall).round().max(1.0);
            let unit = rise / up;
            (up, (fall / unit).round(), unit)
        };
        let (up, down) = (up as u32, down as u32);
        Self {
            p0,
            p1,
            up,
            down,
            threshold: arl::threshold_for(
                p0,
                up,
                down,
                run_length,
                wald_threshold(p0, p1, run_length) / unit,
            ),
            unit,
        }
    }

    /// Expected calls until an alarm when each call is bad with probability `p`.
    pub fn run_length(&self, p: f64) -> f64 {
        arl::run_length(p, self.up, self.down, self.threshold)
    }

    /// The alarm threshold in nats, the `h` of the textbook CUSUM.
    pub fn threshold_nats(&self) -> f64 {
        f64::from(self.threshold) * self.unit
    }
}

/// Wald's approximation of the threshold in nats, a starting point for the exact search:
/// the `h` with (e^h − h − 1) / KL(p0‖p1) = run length.
fn wald_threshold(p0: f64, p1: f64, run_length: f64) -> f64 {
    let kl = p0 * (p0 / p1).ln() + (1.0 - p0) * ((1.0 - p0) / (1.0 - p1)).ln();
    let target = run_length * kl;
    let mut h = target.max(1.0).ln();
    for _ in 0..20 {
        h = (target + h + 1.0).ln();
    }
    h
}

/// An alarm: when the detector crossed its threshold, and the calls since its last reset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumAlarm {
    pub at: DateTime<Utc>,
    /// The first call after the score last stood at zero: the estimated onset of the change.
    pub onset: DateTime<Utc>,
}

/// The running detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Cusum {
    design: CusumDesign,
    score: u32,
    run_start: Option<DateTime<Utc>>,
    alarm: Option<CusumAlarm>,
}

impl Cusum {
    pub fn new(design: CusumDesign) -> Self {
        Self {
            design,
            score: 0,
            run_start: None,
            alarm: None,
        }
    }

    pub fn design(&self) -> &CusumDesign {
        &self.design
    }

    /// Takes a new design (a relearned baseline) without losing the run under way.
    pub fn redesign(&mut self, design: CusumDesign) {
        let scale = f64::from(design.threshold) / f64::from(self.design.threshold);
        self.score = (f64::from(self.score) * scale).round() as u32;
        self.design = design;
    }

    /// Feeds one call; returns the alarm when this call raised it.
    pub fn step(&mut self, ts: DateTime<Utc>, bad: bool) -> Option<CusumAlarm> {
        if self.score == 0 {
            self.run_start = Some(ts);
        }
        self.score = if bad {
            self.score + self.design.up
        } else {
            self.score.saturating_sub(self.design.down)
        };
        if self.score == 0 {
            self.alarm = None;
            self.run_start = None;
            return None;
        }
        if self.score < self.design.threshold {
            return None;
        }
        // Capped at the threshold, so that recovery shows within a few hundred healthy calls.
        self.score = self.design.threshold;
        if self.alarm.is_some() {
            return None;
        }
        let alarm = CusumAlarm {
            at: ts,
            onset: self.run_start.unwrap_or(ts),
        };
        self.alarm = Some(alarm);
        Some(alarm)
    }

    /// The alarm in force: raised and not yet cleared by the score returning to zero.
    pub fn alarm(&self) -> Option<CusumAlarm> {
        self.alarm
    }

    /// Where the run under way began, once its score has reached `level` of the threshold: the
    /// calls since may already belong to a change, and no baseline should learn from them.
    pub fn suspected_since(&self, level: f64) -> Option<DateTime<Utc>> {
        self.run_start.filter(|_| self.level() >= level)
    }

    /// The score as a share of the threshold, 0..=1.
    pub fn level(&self) -> f64 {
        f64::from(self.score) / f64::from(self.design.threshold)
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

    #[test]
    fn the_optimal_designs_match_the_published_delays() {
        // DETECTION.md: 29.7, 39.8 and 239 calls at 10,000 calls between false alarms.
        for (p0, p1, delay, h) in [
            (0.04, 0.22, 29.7, 6.49),
            (0.10, 0.30, 39.8, 6.54),
            (0.02, 0.05, 239.0, 4.54),
        ] {
            let design = CusumDesign::calibrate(p0, p1, 10_000.0);
            assert!(design.run_length(p0) >= 10_000.0);
            let measured = design.run_length(p1);
            assert!(
                (measured - delay).abs() / delay < 0.05,
                "{p0}→{p1}: {measured:.1} calls, expected {delay}"
            );
            assert!(
                (design.threshold_nats() - h).abs() < 0.35,
                "h {}",
                design.threshold_nats()
            );
        }
    }

    /// Calls of a seeded stream that is bad with probability `before` until `change`, then
    /// `after`; returns the call index of the first alarm and the onset it estimated.
    fn run(design: CusumDesign, before: f64, after: f64, change: i64, seed: u64) -> (i64, i64) {
        let mut rng = Rng::new(seed);
        let mut cusum = Cusum::new(design);
        for i in 0..200_000 {
            let p = if i < change { before } else { after };
            let ts = start() + Duration::seconds(i);
            if let Some(alarm) = cusum.step(ts, rng.chance(p)) {
                return (i, (alarm.onset - start()).num_seconds());
            }
        }
        panic!("no alarm in 200,000 calls");
    }

    #[test]
    fn a_run_is_suspected_from_its_start_once_its_score_climbs_to_the_level() {
        let mut cusum = Cusum::new(CusumDesign::calibrate(0.02, 0.05, 10_000.0));
        let at = |i: i64| start() + Duration::seconds(i);
        cusum.step(at(0), false);
        let mut i = 1;
        while cusum.level() < 0.75 {
            assert_eq!(
                cusum.suspected_since(0.75),
                None,
                "at level {}",
                cusum.level()
            );
            cusum.step(at(i), true);
            i += 1;
        }
        assert_eq!(cusum.suspected_since(0.75), Some(at(1)));
        while cusum.level() > 0.0 {
            cusum.step(at(i), false);
            i += 1;
        }
        assert_eq!(
            cusum.suspected_since(0.0),
            None,
            "a run back at zero is over"
        );
    }

    #[test]
    fn on_seeded_streams_the_delay_and_onset_land_near_the_change() {
        let design = CusumDesign::calibrate(0.04, 0.22, 10_000.0);
        let mut delays = Vec::new();
        let mut onset_errors = Vec::new();
        for seed in 0..200 {
            let (alarm, onset) = run(design, 0.04, 0.22, 2_000, seed);
            if alarm >= 2_000 {
                delays.push((alarm - 2_000) as f64);
                onset_errors.push((onset - 2_000).abs());
            }
        }
        assert!(
            delays.len() >= 160,
            "too many false alarms before the change"
        );
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        assert!((20.0..40.0).contains(&mean), "mean delay {mean}");
        onset_errors.sort_unstable();
        let median = onset_errors[onset_errors.len() / 2];
        assert!(median <= 10, "median onset error {median} calls");
    }

    #[test]
    fn on_seeded_healthy_streams_false_alarms_keep_to_the_budget() {
        let design = CusumDesign::calibrate(0.04, 0.22, 2_000.0);
        let mut rng = Rng::new(11);
        let mut cusum = Cusum::new(design);
        let calls = 400_000;
        let alarms = (0..calls)
            .filter(|i| {
                cusum
                    .step(start() + Duration::seconds(*i), rng.chance(0.04))
                    .is_some()
            })
            .count();
        // The budget allows 200; the cap and the clear-on-zero rule only make alarms rarer.
        assert!((60..=230).contains(&alarms), "{alarms} alarms");
    }

    #[test]
    fn an_alarm_clears_when_the_score_returns_to_zero() {
        let design = CusumDesign::calibrate(0.04, 0.22, 10_000.0);
        let mut cusum = Cusum::new(design);
        let mut i = 0;
        while cusum.alarm().is_none() {
            cusum.step(start() + Duration::seconds(i), true);
            i += 1;
        }
        let onset = cusum.alarm().unwrap().onset;
        assert_eq!(onset, start());
        while cusum.level() > 0.0 {
            cusum.step(start() + Duration::seconds(i), false);
            i += 1;
        }
        assert!(cusum.alarm().is_none());
    }
}
