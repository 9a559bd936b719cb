//! What healthy outputs (or inputs) of one feature look like, as a few representative embeddings,
//! and how similar a healthy one usually is to the nearest of them: the yardstick for a new one.

use super::embedding::cosine;
use crate::engine::stats::percentile;

/// Calibration samples needed beyond `k`, so that the threshold's quantile rests on enough of them.
const MIN_CALIBRATION: usize = 10;
/// Rounds of moving each representative to the middle of its cluster; the first few do the work.
const REFINEMENTS: usize = 3;
/// A point this similar to a representative is already represented: seeding stops early.
const REPRESENTED: f32 = 1.0 - 1e-6;

/// A few representative healthy vectors, with the distribution of held-out healthy vectors'
/// similarity to the nearest of them.
#[derive(Debug, Clone)]
pub struct Reference {
    dims: usize,
    /// The representatives, one after another, `dims` values each.
    representatives: Vec<f32>,
    threshold: f32,
    median: f32,
}

impl Reference {
    /// Builds a reference from unit-length samples of one length: the even-indexed ones choose up
    /// to `k` representatives (medoids), and the odd-indexed ones, held out, calibrate the
    /// `threshold` at their similarities' `quantile`. `None` with fewer than `2k + 20` samples, or
    /// samples of different lengths, empty, or not finite.
    pub fn build(samples: &[&[f32]], k: usize, quantile: f64) -> Option<Reference> {
        let dims = samples.first()?.len();
        let malformed =
            |sample: &&[f32]| sample.len() != dims || sample.iter().any(|value| !value.is_finite());
        if k == 0
            || dims == 0
            || samples.len() < 2 * (k + MIN_CALIBRATION)
            || samples.iter().any(malformed)
        {
            return None;
        }
        let fitting: Vec<&[f32]> = samples.iter().step_by(2).copied().collect();
        let mut reference = Reference {
            dims,
            representatives: medoids(&fitting, k)?
                .into_iter()
                .flat_map(|at| fitting[at])
                .copied()
                .collect(),
            threshold: 0.0,
            median: 0.0,
        };
        let mut similarities: Vec<f64> = samples
            .iter()
            .skip(1)
            .step_by(2)
            .map(|sample| f64::from(reference.nearest(sample)))
            .collect();
        reference.threshold = percentile(&mut similarities, quantile)? as f32;
        reference.median = percentile(&mut similarities, 0.5)? as f32;
        Some(reference)
    }

    /// The similarity of a unit-length vector to the nearest representative; `None` when its
    /// length is not the reference's.
    pub fn similarity(&self, vector: &[f32]) -> Option<f32> {
        (vector.len() == self.dims).then(|| self.nearest(vector))
    }

    /// The similarity below which a healthy vector falls only at the build's quantile.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The median similarity of a healthy vector.
    pub fn median(&self) -> f32 {
        self.median
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    fn nearest(&self, vector: &[f32]) -> f32 {
        self.representatives
            .chunks_exact(self.dims)
            .map(|representative| cosine(representative, vector))
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

/// The index of the point most similar to `target`, the first on a tie; `None` without points.
fn most_similar<'a>(
    points: impl Iterator<Item = (usize, &'a [f32])>,
    target: &[f32],
) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (at, point) in points {
        let similarity = cosine(point, target);
        if best.is_none_or(|(_, top)| similarity > top) {
            best = Some((at, similarity));
        }
    }
    best.map(|(at, _)| at)
}

/// Each point's cluster: the index in `chosen` of its most similar representative.
fn assign(points: &[&[f32]], chosen: &[usize]) -> Option<Vec<usize>> {
    points
        .iter()
        .map(|point| most_similar(chosen.iter().map(|at| points[*at]).enumerate(), point))
        .collect()
}

/// Up to `k` representatives of the points, as indices: deterministic farthest-point seeding
/// from the point nearest the mean, then a few k-medoids-style rounds, each assigning the points
/// to their nearest representative and moving it to the member nearest its cluster's mean.
/// O(n·k·dims) per round. Farthest-point seeding picks outliers too, so a representative left
/// with no member but itself is dropped: it would vouch for whatever resembles one odd sample.
fn medoids(points: &[&[f32]], k: usize) -> Option<Vec<usize>> {
    let dims = points.first()?.len();
    let mut mean = vec![0.0f32; dims];
    for point in points {
        for (sum, value) in mean.iter_mut().zip(*point) {
            *sum += value;
        }
    }
    // Ranking by dot product with a sum ranks by cosine with its direction.
    let mut chosen = vec![most_similar(points.iter().copied().enumerate(), &mean)?];
    // Each point's similarity to its nearest chosen representative.
    let mut represented: Vec<f32> = points
        .iter()
        .map(|point| cosine(point, points[chosen[0]]))
        .collect();
    while chosen.len() < k {
        let (farthest, similarity) =
            represented
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::INFINITY), |least, (at, s)| {
                    if s < least.1 { (at, s) } else { least }
                });
        if similarity >= REPRESENTED {
            break;
        }
        chosen.push(farthest);
        for (nearest, point) in represented.iter_mut().zip(points) {
            *nearest = nearest.max(cosine(point, points[farthest]));
        }
    }
    for _ in 0..REFINEMENTS {
        let clusters = assign(points, &chosen)?;
        let mut sums = vec![0.0f32; chosen.len() * dims];
        for (point, cluster) in points.iter().zip(&clusters) {
            for (sum, value) in sums[cluster * dims..][..dims].iter_mut().zip(*point) {
                *sum += value;
            }
        }
        let mut moved = false;
        for (cluster, representative) in chosen.iter_mut().enumerate() {
            let members = points
                .iter()
                .copied()
                .enumerate()
                .filter(|(at, _)| clusters[*at] == cluster);
            let middle = &sums[cluster * dims..][..dims];
            // A cluster its representative's duplicate emptied keeps its representative.
            if let Some(medoid) = most_similar(members, middle) {
                moved |= medoid != *representative;
                *representative = medoid;
            }
        }
        if !moved {
            break;
        }
    }
    let mut members = vec![0usize; chosen.len()];
    for cluster in assign(points, &chosen)? {
        members[cluster] += 1;
    }
    if members.iter().any(|count| *count > 1) {
        let mut count = members.into_iter();
        chosen.retain(|_| count.next().is_some_and(|members| members > 1));
    }
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;

    use crate::engine::signals::clusters::{DIMS, centre, member, unit};

    /// Members of clusters picked at random: a strict rotation would line up with the build's
    /// alternate split and leave a cluster out of one half.
    fn mixture(rng: &mut Rng, centres: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                let centre = rng.pick(centres).clone();
                member(rng, &centre)
            })
            .collect()
    }

    fn views(samples: &[Vec<f32>]) -> Vec<&[f32]> {
        samples.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn members_of_known_clusters_pass_and_a_new_cluster_does_not() {
        let mut rng = Rng::new(3);
        let known = [centre(&mut rng), centre(&mut rng)];
        let stranger = centre(&mut rng);
        let samples = mixture(&mut rng, &known, 200);
        let reference = Reference::build(&views(&samples), 4, 0.10).unwrap();
        assert_eq!(reference.dims(), DIMS);
        assert!(reference.threshold() < reference.median());
        let passing = mixture(&mut rng, &known, 200)
            .iter()
            .filter(|v| reference.similarity(v).unwrap() >= reference.threshold())
            .count();
        assert!(passing > 160, "{passing}");
        let strangers_passing = (0..200)
            .filter(|_| {
                let v = member(&mut rng, &stranger);
                reference.similarity(&v).unwrap() >= reference.threshold()
            })
            .count();
        assert_eq!(strangers_passing, 0);
    }

    #[test]
    fn about_the_quantile_of_fresh_healthy_samples_fall_below_the_threshold() {
        for seed in 0..5 {
            let mut rng = Rng::new(seed);
            let centres: Vec<Vec<f32>> = (0..3).map(|_| centre(&mut rng)).collect();
            let samples = mixture(&mut rng, &centres, 480);
            let reference = Reference::build(&views(&samples), 8, 0.10).unwrap();
            let below = mixture(&mut rng, &centres, 3000)
                .iter()
                .filter(|v| reference.similarity(v).unwrap() < reference.threshold())
                .count() as f64
                / 3000.0;
            assert!((0.04..0.18).contains(&below), "seed {seed}: {below}");
        }
    }

    #[test]
    fn too_few_or_mismatched_samples_build_nothing() {
        let mut rng = Rng::new(9);
        let centres = [centre(&mut rng)];
        let samples = mixture(&mut rng, &centres, 2 * 4 + 20);
        assert!(Reference::build(&views(&samples), 4, 0.1).is_some());
        assert!(Reference::build(&views(&samples[1..]), 4, 0.1).is_none());
        assert!(Reference::build(&views(&samples), 0, 0.1).is_none());
        let mut ragged = views(&samples);
        ragged[7] = &ragged[7][1..];
        assert!(Reference::build(&ragged, 4, 0.1).is_none());
        let reference = Reference::build(&views(&samples), 4, 0.1).unwrap();
        assert_eq!(reference.similarity(&[1.0; DIMS - 1]), None);
    }

    #[test]
    fn an_odd_sample_does_not_become_a_representative() {
        let mut rng = Rng::new(5);
        let known = [centre(&mut rng), centre(&mut rng)];
        let odd = centre(&mut rng);
        let mut samples = mixture(&mut rng, &known, 100);
        samples[40] = member(&mut rng, &odd);
        let reference = Reference::build(&views(&samples), 4, 0.10).unwrap();
        for like_the_odd_one in [samples[40].clone(), member(&mut rng, &odd)] {
            let similarity = reference.similarity(&like_the_odd_one).unwrap();
            assert!(similarity < 0.3, "{similarity} {}", reference.threshold());
        }
    }

    #[test]
    fn identical_samples_need_a_single_representative() {
        let samples = vec![unit(vec![1.0; DIMS]); 40];
        let reference = Reference::build(&views(&samples), 5, 0.1).unwrap();
        assert_eq!(reference.representatives.len(), DIMS);
        assert!((reference.threshold() - 1.0).abs() < 1e-5);
    }
}
