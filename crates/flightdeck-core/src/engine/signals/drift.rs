//! Two-sample tests between a feature's baseline and recent inputs: whether their embeddings come
//! from one distribution (a kernel MMD permutation test), and which words came and went.

use std::hash::Hash;

use foldhash::HashMap;

use super::embedding::dot;
use crate::engine::stats::percentile;

/// Least vectors on each side before the test says anything: fewer leave the null too coarse.
const MIN_SAMPLES: usize = 10;
/// Least count of a term, on the side where it is common, before it can lead a list: one-off
/// typos do not.
const MIN_TERM_COUNT: u64 = 3;

/// The result of a kernel two-sample test between a baseline and a recent sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MmdTest {
    /// The unbiased squared maximum mean discrepancy between the samples.
    pub mmd2: f64,
    /// The `1 - alpha` quantile of `mmd2` over random relabellings: above it, the samples differ.
    pub threshold: f64,
    /// The share of relabellings, the observed one included, with an `mmd2` at least as large.
    pub p_value: f64,
    /// The RBF kernel's σ: the median distance between two pooled vectors.
    pub bandwidth: f64,
    pub baseline: usize,
    pub recent: usize,
}

/// A kernel two-sample test of whether `recent` comes from the distribution of `baseline`: the
/// unbiased MMD² under an RBF kernel with the median-distance bandwidth, against `permutations`
/// random relabellings of the pooled sample (seeded by `seed`, so a test replays exactly).
/// `None` with fewer than 10 vectors on a side, no permutations, or vectors of different lengths,
/// empty, or not finite. Costs O(n²·dims + permutations·n²) for n pooled vectors.
pub fn mmd_test(
    baseline: &[&[f32]],
    recent: &[&[f32]],
    permutations: usize,
    alpha: f64,
    seed: u64,
) -> Option<MmdTest> {
    let dims = baseline.first()?.len();
    let pooled: Vec<&[f32]> = baseline.iter().chain(recent).copied().collect();
    let malformed =
        |vector: &&[f32]| vector.len() != dims || vector.iter().any(|value| !value.is_finite());
    if baseline.len() < MIN_SAMPLES
        || recent.len() < MIN_SAMPLES
        || permutations == 0
        || dims == 0
        || pooled.iter().any(malformed)
    {
        return None;
    }
    let kernel = Kernel::rbf(&pooled)?;
    let mut order: Vec<usize> = (0..pooled.len()).collect();
    let mut membership = vec![0.0f32; pooled.len()];
    let mut statistic = |first: &[usize]| {
        membership.fill(0.0);
        for at in first {
            membership[*at] = 1.0;
        }
        kernel.mmd2(first, &membership)
    };
    let observed = statistic(&order[..baseline.len()]);
    let mut rng = SplitMix64(seed);
    let mut null: Vec<f64> = (0..permutations)
        .map(|_| {
            // A partial Fisher–Yates shuffle: the first `baseline.len()` are a uniform subset.
            for i in 0..baseline.len() {
                order.swap(i, i + rng.below(pooled.len() - i));
            }
            statistic(&order[..baseline.len()])
        })
        .collect();
    let as_large = null.iter().filter(|value| **value >= observed).count();
    Some(MmdTest {
        mmd2: observed,
        threshold: percentile(&mut null, 1.0 - alpha)?,
        p_value: (1 + as_large) as f64 / (1 + permutations) as f64,
        bandwidth: kernel.bandwidth,
        baseline: baseline.len(),
        recent: recent.len(),
    })
}

/// The RBF kernel between every two pooled vectors, computed once for all relabellings.
struct Kernel {
    n: usize,
    /// Row-major n × n, with a zero diagonal: the unbiased statistic leaves self-pairs out.
    values: Vec<f32>,
    row_sums: Vec<f64>,
    total: f64,
    bandwidth: f64,
}

impl Kernel {
    /// k(x, y) = exp(−‖x − y‖² / 2σ²), with σ the median distance between two distinct vectors
    /// (1 when all coincide); `None` when the distances overflow.
    fn rbf(vectors: &[&[f32]]) -> Option<Self> {
        let n = vectors.len();
        let squared_norms: Vec<f32> = vectors.iter().map(|v| dot(v, v)).collect();
        // Squared distances first, in the upper triangle; the kernel replaces them below.
        let mut values = vec![0.0f32; n * n];
        let mut distances = Vec::with_capacity(n * (n - 1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                let squared =
                    squared_norms[i] + squared_norms[j] - 2.0 * dot(vectors[i], vectors[j]);
                let squared = squared.max(0.0);
                values[i * n + j] = squared;
                if squared > 0.0 {
                    distances.push(f64::from(squared));
                }
            }
        }
        let median_squared = percentile(&mut distances, 0.5).unwrap_or(1.0);
        if !median_squared.is_finite() {
            return None;
        }
        for i in 0..n {
            for j in i + 1..n {
                let kernel = (-f64::from(values[i * n + j]) / (2.0 * median_squared)).exp() as f32;
                values[i * n + j] = kernel;
                values[j * n + i] = kernel;
            }
        }
        let row_sums: Vec<f64> = values
            .chunks_exact(n)
            .map(|row| row.iter().map(|k| f64::from(*k)).sum())
            .collect();
        Some(Self {
            n,
            values,
            total: row_sums.iter().sum(),
            row_sums,
            bandwidth: median_squared.sqrt(),
        })
    }

    /// The unbiased MMD² between the vectors at `first` and the rest, with `membership` 1 at
    /// `first` and 0 elsewhere. Only the first sample's rows are read: the rest follow from the
    /// row sums.
    fn mmd2(&self, first: &[usize], membership: &[f32]) -> f64 {
        let (m, r) = (first.len() as f64, (self.n - first.len()) as f64);
        let mut within_first = 0.0;
        let mut first_rows = 0.0;
        for at in first {
            within_first += f64::from(dot(&self.values[at * self.n..][..self.n], membership));
            first_rows += self.row_sums[*at];
        }
        let between = first_rows - within_first;
        let within_rest = self.total - 2.0 * first_rows + within_first;
        within_first / (m * (m - 1.0)) + within_rest / (r * (r - 1.0)) - 2.0 * between / (m * r)
    }
}

/// SplitMix64: a small seeded generator, so that a permutation test replays exactly.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`, by multiplying into the high word (no modulo bias worth the name).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// How the vocabulary of recent inputs differs from the baseline's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VocabularyDrift<T> {
    /// Jensen–Shannon divergence between the term distributions, in bits: 0 the same, 1 disjoint.
    pub divergence: f64,
    /// The terms whose share rose most, as (term, recent share, baseline share), largest first.
    pub new_terms: Vec<(T, f64, f64)>,
    /// The terms whose share fell most, as (term, recent share, baseline share), largest first.
    pub vanished_terms: Vec<(T, f64, f64)>,
}

/// Compares two term counts: their Jensen–Shannon divergence, and the `top` terms whose share
/// rose and fell most (ties by term, so the answer is the same on every run), leaving out terms
/// seen fewer than 3 times on the side where they are common. `None` when either side is empty.
pub fn vocabulary_drift<T: Copy + Eq + Hash + Ord>(
    baseline: &HashMap<T, u64>,
    recent: &HashMap<T, u64>,
    top: usize,
) -> Option<VocabularyDrift<T>> {
    // Exact integer totals and sorted terms, so that no sum depends on the maps' order.
    let total = |counts: &HashMap<T, u64>| counts.values().map(|c| u128::from(*c)).sum::<u128>();
    let (baseline_total, recent_total) = (total(baseline), total(recent));
    if baseline_total == 0 || recent_total == 0 {
        return None;
    }
    let mut terms: Vec<T> = baseline.keys().chain(recent.keys()).copied().collect();
    terms.sort_unstable();
    terms.dedup();
    let mut divergence = 0.0;
    let mut new_terms = Vec::new();
    let mut vanished_terms = Vec::new();
    for term in terms {
        let before_count = baseline.get(&term).copied().unwrap_or(0);
        let now_count = recent.get(&term).copied().unwrap_or(0);
        let before = before_count as f64 / baseline_total as f64;
        let now = now_count as f64 / recent_total as f64;
        let middle = (before + now) / 2.0;
        for share in [before, now] {
            if share > 0.0 {
                divergence += share * (share / middle).log2() / 2.0;
            }
        }
        if now > before && now_count >= MIN_TERM_COUNT {
            new_terms.push((term, now, before));
        } else if before > now && before_count >= MIN_TERM_COUNT {
            vanished_terms.push((term, now, before));
        }
    }
    leading(&mut new_terms, top, |(_, now, before)| now - before);
    leading(&mut vanished_terms, top, |(_, now, before)| before - now);
    Some(VocabularyDrift {
        divergence: divergence.clamp(0.0, 1.0),
        new_terms,
        vanished_terms,
    })
}

/// Keeps the `top` terms with the largest change, largest first, ties by term.
fn leading<T: Ord>(terms: &mut Vec<(T, f64, f64)>, top: usize, change: fn(&(T, f64, f64)) -> f64) {
    terms.sort_by(|a, b| change(b).total_cmp(&change(a)).then_with(|| a.0.cmp(&b.0)));
    terms.truncate(top);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sim::rng::Rng;

    use crate::engine::signals::clusters::{centre, member};

    fn views(samples: &[Vec<f32>]) -> Vec<&[f32]> {
        samples.iter().map(Vec::as_slice).collect()
    }

    /// A baseline of 100 from two clusters picked at random, and a recent sample of 100 with
    /// `strangers` of every 10 from a third.
    fn samples(seed: u64, strangers: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut rng = Rng::new(seed);
        let known = [centre(&mut rng), centre(&mut rng)];
        let stranger = centre(&mut rng);
        let draw = |rng: &mut Rng, stranger_now: bool| {
            let centre = if stranger_now {
                &stranger
            } else {
                rng.pick(&known)
            }
            .clone();
            member(rng, &centre)
        };
        let baseline = (0..100).map(|_| draw(&mut rng, false)).collect();
        let recent = (0..100)
            .map(|i| draw(&mut rng, i % 10 < strangers))
            .collect();
        (baseline, recent)
    }

    /// Unbiased MMD² straight from its definition, in f64.
    fn textbook_mmd2(x: &[Vec<f32>], y: &[Vec<f32>], bandwidth: f64) -> f64 {
        let kernel = |a: &[f32], b: &[f32]| {
            let squared: f64 = a.iter().zip(b).map(|(p, q)| f64::from(p - q).powi(2)).sum();
            (-squared / (2.0 * bandwidth * bandwidth)).exp()
        };
        let within = |s: &[Vec<f32>]| {
            let mut sum = 0.0;
            for (i, a) in s.iter().enumerate() {
                for (j, b) in s.iter().enumerate() {
                    if i != j {
                        sum += kernel(a, b);
                    }
                }
            }
            sum / (s.len() * (s.len() - 1)) as f64
        };
        let between: f64 = x.iter().flat_map(|a| y.iter().map(|b| kernel(a, b))).sum();
        within(x) + within(y) - 2.0 * between / (x.len() * y.len()) as f64
    }

    #[test]
    fn the_statistic_is_the_unbiased_mmd2() {
        let (baseline, recent) = samples(6, 3);
        let (baseline, recent) = (&baseline[..30], &recent[..20]);
        let test = mmd_test(&views(baseline), &views(recent), 10, 0.05, 1).unwrap();
        let expected = textbook_mmd2(baseline, recent, test.bandwidth);
        assert!(
            (test.mmd2 - expected).abs() < 1e-5,
            "{test:?} vs {expected}"
        );
    }

    #[test]
    fn samples_of_one_distribution_mostly_pass() {
        let passing = (0..10)
            .filter(|seed| {
                let (baseline, recent) = samples(*seed, 0);
                let test = mmd_test(&views(&baseline), &views(&recent), 100, 0.05, *seed).unwrap();
                assert!(test.mmd2.abs() < 0.05, "{test:?}");
                test.p_value > 0.05
            })
            .count();
        assert!(passing >= 8, "{passing}");
    }

    #[test]
    fn a_third_of_inputs_from_elsewhere_is_detected() {
        for seed in 0..3 {
            let (baseline, recent) = samples(seed, 3);
            let test = mmd_test(&views(&baseline), &views(&recent), 200, 0.05, seed).unwrap();
            assert!(test.p_value <= 0.01, "{test:?}");
            assert!(test.mmd2 > test.threshold, "{test:?}");
            assert_eq!((test.baseline, test.recent), (100, 100));
            assert!(test.bandwidth > 0.0 && test.bandwidth < 2.0, "{test:?}");
        }
    }

    #[test]
    fn the_same_seed_replays_the_same_test() {
        let (baseline, recent) = samples(4, 1);
        let run = |seed| mmd_test(&views(&baseline), &views(&recent), 50, 0.05, seed);
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn too_few_or_mismatched_vectors_are_not_tested() {
        let (baseline, recent) = samples(5, 0);
        let (baseline, recent) = (views(&baseline), views(&recent));
        assert!(mmd_test(&baseline[..10], &recent[..10], 20, 0.05, 1).is_some());
        assert!(mmd_test(&baseline[..9], &recent, 20, 0.05, 1).is_none());
        assert!(mmd_test(&baseline, &recent[..9], 20, 0.05, 1).is_none());
        assert!(mmd_test(&baseline, &recent, 0, 0.05, 1).is_none());
        let mut ragged = recent.clone();
        ragged[3] = &ragged[3][1..];
        assert!(mmd_test(&baseline, &ragged, 20, 0.05, 1).is_none());
    }

    fn counts(pairs: &[(&'static str, u64)]) -> HashMap<&'static str, u64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn identical_vocabularies_do_not_diverge_and_disjoint_ones_fully_do() {
        let words = counts(&[("refund", 10), ("order", 7), ("late", 3)]);
        let same = vocabulary_drift(&words, &words, 5).unwrap();
        assert_eq!(same.divergence, 0.0);
        assert!(same.new_terms.is_empty() && same.vanished_terms.is_empty());
        let other = counts(&[("password", 4), ("reset", 9)]);
        let disjoint = vocabulary_drift(&words, &other, 5).unwrap();
        assert!((disjoint.divergence - 1.0).abs() < 1e-12, "{disjoint:?}");
        assert!(vocabulary_drift(&words, &HashMap::default(), 5).is_none());
        assert!(vocabulary_drift(&counts(&[("refund", 0)]), &words, 5).is_none());
    }

    #[test]
    fn new_and_vanished_terms_come_out_largest_change_first() {
        let baseline = counts(&[("order", 50), ("refund", 28), ("late", 20), ("typo", 2)]);
        let recent = counts(&[
            ("order", 50),
            ("password", 20),
            ("reset", 20),
            ("login", 3),
            ("late", 5),
            ("qwzx", 2),
        ]);
        let drift = vocabulary_drift(&baseline, &recent, 2).unwrap();
        assert!(
            drift.divergence > 0.1 && drift.divergence < 1.0,
            "{drift:?}"
        );
        let new: Vec<&str> = drift.new_terms.iter().map(|t| t.0).collect();
        assert_eq!(new, ["password", "reset"], "a tie goes to the first term");
        assert_eq!(drift.new_terms[0].1, 0.2);
        assert_eq!(drift.new_terms[0].2, 0.0);
        let vanished: Vec<&str> = drift.vanished_terms.iter().map(|t| t.0).collect();
        assert_eq!(vanished, ["refund", "late"]);
        let all = vocabulary_drift(&baseline, &recent, 10).unwrap();
        assert!(
            all.new_terms.iter().all(|t| t.0 != "qwzx"),
            "a one-off is left out"
        );
        assert!(all.vanished_terms.iter().all(|t| t.0 != "typo"));
        assert_eq!(all.new_terms.len(), 3, "{all:?}");
    }

    fn vectors(dims: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
        prop::collection::vec(prop::collection::vec(-1.0f32..1.0, dims), 0..24)
    }

    proptest! {
        #[test]
        fn mmd_test_never_panics_and_stays_finite(
            (baseline, recent) in (1usize..6).prop_flat_map(|dims| (vectors(dims), vectors(dims))),
            permutations in 0usize..30,
            alpha in 0.0f64..1.0,
            seed in any::<u64>(),
        ) {
            if let Some(test) = mmd_test(&views(&baseline), &views(&recent), permutations, alpha, seed) {
                prop_assert!(test.mmd2.is_finite() && test.threshold.is_finite());
                prop_assert!(test.bandwidth.is_finite() && test.bandwidth > 0.0);
                prop_assert!(test.p_value > 0.0 && test.p_value <= 1.0);
            }
        }

        #[test]
        fn vocabulary_drift_never_panics_and_stays_finite(
            baseline in prop::collection::hash_map(0u8..12, any::<u64>(), 0..8),
            recent in prop::collection::hash_map(0u8..12, 0u64..10, 0..8),
            top in 0usize..5,
        ) {
            let baseline: HashMap<u8, u64> = baseline.into_iter().collect();
            let recent: HashMap<u8, u64> = recent.into_iter().collect();
            if let Some(drift) = vocabulary_drift(&baseline, &recent, top) {
                prop_assert!((0.0..=1.0).contains(&drift.divergence));
                prop_assert!(drift.new_terms.len() <= top && drift.vanished_terms.len() <= top);
                for (_, now, before) in drift.new_terms.iter().chain(&drift.vanished_terms) {
                    prop_assert!(now.is_finite() && before.is_finite());
                }
            }
        }
    }
}
