//! Which calls the engine reads in full when traffic outgrows it. Up to a cap per minute every
//! call is; above it a random sample is, each sampled call standing for `stride` calls, so
//! memory and the content signals' cost stay flat at any rate. The sample is drawn at random,
//! not every Nth call, so a sender whose batches repeat cannot alias with it. Calls left out
//! still count for everything that is cheap to count: transport, latency, labels and feedback.

use chrono::{DateTime, Utc};

use crate::sim::rng::Rng;

#[derive(Debug, Clone)]
pub struct Admission {
    cap: u64,
    minute: i64,
    seen: u64,
    kept: u64,
    stride: u64,
    /// Seeded, so a replay samples the same calls every time.
    rng: Rng,
}

/// The sampler's seed: any fixed value keeps replays identical.
const SEED: u64 = 0x5EED_F11C_4DEC_0001;

impl Admission {
    pub fn new(max_calls_per_minute: u32) -> Self {
        Self {
            cap: u64::from(max_calls_per_minute.max(1)),
            minute: i64::MIN,
            seen: 0,
            kept: 0,
            stride: 1,
            rng: Rng::new(SEED),
        }
    }

    /// The weight of the call if it is sampled (how many calls it stands for), else `None`.
    pub fn admit(&mut self, ts: DateTime<Utc>) -> Option<u32> {
        let minute = ts.timestamp().div_euclid(60);
        if minute > self.minute {
            // A steady load keeps the stride its last minute needed; after a quiet gap, none.
            self.stride = if minute == self.minute + 1 {
                self.seen.div_ceil(self.cap).max(1)
            } else {
                1
            };
            self.minute = minute;
            self.seen = 0;
            self.kept = 0;
        }
        self.seen += 1;
        if self.kept >= 2 * self.cap {
            // A burst within the minute: keep half as many of what was being kept.
            self.stride *= 2;
            self.kept /= 2;
        }
        if self.stride > 1 && !self.rng.next_u64().is_multiple_of(self.stride) {
            return None;
        }
        self.kept += 1;
        Some(u32::try_from(self.stride).unwrap_or(u32::MAX))
    }

    /// One sampled call in how many, as of the latest call.
    pub fn stride(&self) -> u64 {
        self.stride
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn run(
        admission: &mut Admission,
        start: DateTime<Utc>,
        per_minute: u64,
        minutes: i64,
    ) -> (u64, u64) {
        let (mut kept, mut weight) = (0, 0);
        for minute in 0..minutes {
            for i in 0..per_minute {
                let ts = start
                    + Duration::minutes(minute)
                    + Duration::microseconds((60_000_000 * i / per_minute) as i64);
                if let Some(w) = admission.admit(ts) {
                    kept += 1;
                    weight += u64::from(w);
                }
            }
        }
        (kept, weight)
    }

    fn start() -> DateTime<Utc> {
        "2026-03-14T14:00:00Z".parse().unwrap()
    }

    #[test]
    fn under_the_cap_every_call_is_kept_at_weight_one() {
        let mut admission = Admission::new(3_000);
        assert_eq!(run(&mut admission, start(), 1_000, 5), (5_000, 5_000));
        assert_eq!(admission.stride(), 1);
    }

    #[test]
    fn a_heavy_steady_load_keeps_about_the_cap_and_weighs_back_to_the_true_volume() {
        let mut admission = Admission::new(3_000);
        let minutes = 10;
        let (kept, weight) = run(&mut admission, start(), 60_000, minutes);
        let per_minute = kept / minutes as u64;
        assert!(per_minute <= 6_000, "kept {per_minute} a minute");
        let truth = 60_000 * minutes as u64;
        let error = (weight as f64 - truth as f64).abs() / truth as f64;
        assert!(error < 0.02, "weights sum to {weight} for {truth} calls");
        assert_eq!(admission.stride(), 20);
    }

    #[test]
    fn a_sender_whose_batches_repeat_does_not_alias_with_the_sample() {
        // Every tenth call fails, in batches of ten; a stride of ten taking every tenth call
        // would see all failures or none.
        let mut admission = Admission::new(1_000);
        let (mut kept, mut failed) = (0u64, 0u64);
        for minute in 0..10 {
            for i in 0..10_000u64 {
                let ts = start()
                    + Duration::minutes(minute)
                    + Duration::microseconds((6_000 * i) as i64);
                if admission.admit(ts).is_some() {
                    kept += 1;
                    failed += u64::from(i % 10 == 9);
                }
            }
        }
        let share = failed as f64 / kept as f64;
        assert!(
            (0.08..0.12).contains(&share),
            "{failed} of {kept} sampled failed"
        );
    }

    #[test]
    fn after_a_quiet_gap_every_call_is_kept_again() {
        let mut admission = Admission::new(3_000);
        run(&mut admission, start(), 30_000, 2);
        assert!(admission.stride() > 1);
        assert_eq!(admission.admit(start() + Duration::minutes(10)), Some(1));
    }

    #[test]
    fn the_stride_comes_back_down_when_traffic_does() {
        let mut admission = Admission::new(3_000);
        run(&mut admission, start(), 30_000, 3);
        assert!(admission.stride() > 1);
        let (kept, weight) = run(&mut admission, start() + Duration::minutes(3), 1_000, 2);
        assert_eq!(admission.stride(), 1);
        assert!(
            kept >= 1_000 && weight <= 2_100,
            "kept {kept}, weight {weight}"
        );
    }
}
