//! Test vectors: unit-length points in clusters around random centres, for the reference and
//! drift tests.

use crate::sim::rng::Rng;

pub const DIMS: usize = 256;

pub fn unit(vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.into_iter().map(|x| x / norm).collect()
}

pub fn centre(rng: &mut Rng) -> Vec<f32> {
    unit((0..DIMS).map(|_| rng.standard_normal() as f32).collect())
}

/// A member of the cluster around `centre`: about as much noise as signal.
pub fn member(rng: &mut Rng, centre: &[f32]) -> Vec<f32> {
    let spread = 1.0 / (DIMS as f64).sqrt();
    unit(
        centre
            .iter()
            .map(|c| c + (spread * rng.standard_normal()) as f32)
            .collect(),
    )
}
