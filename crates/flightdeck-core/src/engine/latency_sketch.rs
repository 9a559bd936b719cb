//! Latencies counted in logarithmic buckets, 64 to an octave, so that a percentile over hours of
//! calls costs a merge of per-minute buckets rather than a pass over every call.

/// Sub-buckets per power of two: a bucket's midpoint is within 0.8% of any value in it.
const PER_OCTAVE: usize = 64;
/// Latencies of 2^40 ms and beyond share the last bucket.
const OCTAVES: usize = 40;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    /// Calls per bucket; bucket 0 holds everything under 1 ms. Grown only as far as needed.
    counts: Vec<u64>,
    total: u64,
}

fn bucket(ms: f64) -> usize {
    if ms.is_nan() || ms < 1.0 {
        return 0;
    }
    let bits = ms.to_bits();
    let octave = ((bits >> 52) & 0x7ff) as usize - 1023;
    if octave >= OCTAVES {
        return OCTAVES * PER_OCTAVE;
    }
    // The top six bits of the mantissa place the value within its octave.
    let sub = ((bits >> 46) & 0x3f) as usize;
    1 + octave * PER_OCTAVE + sub
}

/// The midpoint of a bucket, in milliseconds.
fn midpoint(bucket: usize) -> f64 {
    if bucket == 0 {
        return 0.5;
    }
    let octave = (bucket - 1) / PER_OCTAVE;
    let sub = (bucket - 1) % PER_OCTAVE;
    2f64.powi(octave as i32) * (1.0 + (sub as f64 + 0.5) / PER_OCTAVE as f64)
}

impl LatencySketch {
    pub fn add(&mut self, ms: f64) {
        let index = bucket(ms);
        if self.counts.len() <= index {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The q-quantile (0..=1) by nearest rank, as its bucket's midpoint.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        self.counts.iter().enumerate().find_map(|(index, count)| {
            seen += count;
            (seen >= rank).then(|| midpoint(index))
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::stats::percentile;

    proptest! {
        #[test]
        fn percentiles_are_within_a_bucket_of_the_exact_ones(
            latencies in prop::collection::vec(1.0f64..600_000.0, 1..400),
            q in 0.0f64..=1.0,
        ) {
            let mut sketch = LatencySketch::default();
            latencies.iter().for_each(|ms| sketch.add(*ms));
            let exact = percentile(&mut latencies.clone(), q).unwrap();
            let approximate = sketch.percentile(q).unwrap();
            prop_assert!((approximate / exact - 1.0).abs() < 0.008, "{approximate} vs {exact}");
        }

        #[test]
        fn merging_equals_adding_everything_to_one(
            a in prop::collection::vec(0.0f64..100_000.0, 0..100),
            b in prop::collection::vec(0.0f64..100_000.0, 0..100),
        ) {
            let (mut left, mut right, mut both) =
                (LatencySketch::default(), LatencySketch::default(), LatencySketch::default());
            a.iter().for_each(|ms| left.add(*ms));
            b.iter().for_each(|ms| right.add(*ms));
            a.iter().chain(&b).for_each(|ms| both.add(*ms));
            left.merge(&right);
            prop_assert_eq!(left, both);
        }
    }

    #[test]
    fn an_empty_sketch_has_no_percentile_and_tiny_latencies_share_a_bucket() {
        let mut sketch = LatencySketch::default();
        assert_eq!(sketch.percentile(0.95), None);
        sketch.add(0.2);
        sketch.add(0.7);
        assert_eq!(sketch.percentile(1.0), Some(0.5));
        assert_eq!(sketch.count(), 2);
    }
}
