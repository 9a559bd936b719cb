//! Small statistics: proportions with confidence intervals, percentiles, and a Bernoulli CUSUM
//! used to estimate when a change began.

use chrono::{DateTime, Utc};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_964;

/// A count of bad outcomes among `n` observations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Proportion {
    pub bad: u64,
    pub n: u64,
}

impl Proportion {
    pub fn add(&mut self, bad: bool) {
        self.n += 1;
        self.bad += u64::from(bad);
    }

    pub fn merge(&mut self, other: Proportion) {
        self.n += other.n;
        self.bad += other.bad;
    }

    pub fn rate(&self) -> Option<f64> {
        (self.n > 0).then(|| self.bad as f64 / self.n as f64)
    }

    /// Variance of the rate estimate, with the rate floored so that a zero count still has spread.
    fn variance(&self) -> Option<f64> {
        let p = self
            .rate()?
            .clamp(0.5 / self.n as f64, 1.0 - 0.5 / self.n as f64);
        Some(p * (1.0 - p) / self.n as f64)
    }
}

/// The difference of two rates with its 95% half-width and z score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDelta {
    pub delta: f64,
    pub half_width: f64,
    pub z: f64,
}

pub fn rate_delta(recent: Proportion, baseline: Proportion) -> Option<RateDelta> {
    let delta = recent.rate()? - baseline.rate()?;
    let se = (recent.variance()? + baseline.variance()?).sqrt();
    Some(RateDelta {
        delta,
        half_width: Z95 * se,
        z: delta / se,
    })
}

/// The q-quantile (0..=1) by nearest rank; reorders the slice in place, in linear time.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let (_, value, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some(*value)
}

/// Alarm level of the onset CUSUM; about 1 false alarm in several thousand calls at these rates.
const CUSUM_THRESHOLD: f64 = 5.0;

/// Estimates the onset of a rise from `p0` to about `p1` in a time-ordered stream of outcomes.
/// Within the CUSUM's most recent excursion that crossed its threshold, the onset is the
/// observation after the excursion's lowest score: the maximum-likelihood change point, which
/// keeps chance bad outcomes before the change from dragging the onset back.
pub fn cusum_onset(
    outcomes: impl IntoIterator<Item = (DateTime<Utc>, bool)>,
    p0: f64,
    p1: f64,
) -> Option<DateTime<Utc>> {
    let p0 = p0.clamp(1e-3, 0.98);
    let p1 = p1.clamp(p0 + 1e-3, 0.99);
    let up = (p1 / p0).ln();
    let down = ((1.0 - p1) / (1.0 - p0)).ln();
    let mut score = 0.0_f64;
    let mut lowest = 0.0_f64;
    let mut candidate = None;
    let mut onset = None;
    let mut alarmed = false;
    for (ts, bad) in outcomes {
        if score <= lowest && !alarmed {
            lowest = score;
            candidate = Some(ts);
        }
        score = (score + if bad { up } else { down }).max(0.0);
        if score == 0.0 {
            lowest = 0.0;
            alarmed = false;
        }
        if score >= CUSUM_THRESHOLD && !alarmed {
            alarmed = true;
            onset = candidate;
        }
    }
    onset
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn rate_delta_is_significant_only_for_a_real_difference() {
        let base = Proportion { bad: 40, n: 1000 };
        let same = rate_delta(Proportion { bad: 5, n: 120 }, base).unwrap();
        assert!(same.z.abs() < 1.0);
        let worse = rate_delta(Proportion { bad: 26, n: 120 }, base).unwrap();
        assert!(worse.z > 4.0, "{worse:?}");
        assert!((worse.delta - (26.0 / 120.0 - 0.04)).abs() < 1e-9);
    }

    #[test]
    fn percentile_by_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut values, 0.95), Some(95.0));
        assert_eq!(percentile(&mut values, 0.5), Some(50.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn cusum_finds_the_onset_of_a_step_change() {
        let start: DateTime<Utc> = "2026-03-14T13:00:00Z".parse().unwrap();
        // Every 25th call bad (4%) for 500 calls, then every 4th call bad (25%).
        let outcomes = (0..800).map(|i| {
            let bad = if i < 500 { i % 25 == 0 } else { i % 4 == 0 };
            (start + Duration::seconds(i), bad)
        });
        let onset = cusum_onset(outcomes, 0.04, 0.22).unwrap();
        let offset = (onset - start).num_seconds();
        assert!((490..=510).contains(&offset), "onset at call {offset}");
    }

    #[test]
    fn cusum_ignores_an_earlier_chance_excursion() {
        let start: DateTime<Utc> = "2026-03-14T13:00:00Z".parse().unwrap();
        // A burst of four bad calls at 100..104, healthy until 500, then 25% bad.
        let outcomes = (0..800).map(|i| {
            let bad = (100..104).contains(&i) || if i < 500 { i % 25 == 0 } else { i % 4 == 0 };
            (start + Duration::seconds(i), bad)
        });
        let offset = (cusum_onset(outcomes, 0.04, 0.22).unwrap() - start).num_seconds();
        assert!((490..=510).contains(&offset), "onset at call {offset}");
    }

    #[test]
    fn cusum_places_the_onset_after_a_dip_inside_an_unfinished_excursion() {
        let start: DateTime<Utc> = "2026-03-14T13:00:00Z".parse().unwrap();
        // Three bad calls at 100..103 lift the score; the healthy run after them lowers it
        // without reaching zero before the rate rises at 130.
        let outcomes = (0..400).map(|i| {
            let bad = (100..103).contains(&i) || (i >= 130 && i % 3 == 0);
            (start + Duration::seconds(i), bad)
        });
        let offset = (cusum_onset(outcomes, 0.04, 0.22).unwrap() - start).num_seconds();
        assert!((125..=135).contains(&offset), "onset at call {offset}");
    }

    #[test]
    fn cusum_stays_quiet_on_a_stable_rate() {
        let start: DateTime<Utc> = "2026-03-14T13:00:00Z".parse().unwrap();
        let outcomes = (0..5000).map(|i| (start + Duration::seconds(i), i % 25 == 0));
        assert_eq!(cusum_onset(outcomes, 0.04, 0.22), None);
    }
}
