//! Average run lengths of an integer-step CUSUM, solved exactly from its Markov chain
//! (Brook & Evans 1972), and the least threshold that meets a false-alarm budget.

/// Expected calls until the score first reaches `threshold`, starting from zero, when each call
/// is bad with probability `p`, a bad call adds `up` and a good one subtracts `down` (floor 0).
pub fn run_length(p: f64, up: u32, down: u32, threshold: u32) -> f64 {
    let states = threshold as usize;
    if states == 0 {
        return 1.0;
    }
    let (up, down) = (up as usize, down as usize);
    // (I − Q) L = 1 in band storage: row i keeps columns i−down ..= i+up.
    let width = down + up + 1;
    let mut band = vec![0.0_f64; states * width];
    let at = |row: usize, col: usize| row * width + col + down - row;
    for s in 0..states {
        band[at(s, s)] += 1.0;
        if s + up < states {
            band[at(s, s + up)] -= p;
        }
        band[at(s, s.saturating_sub(down))] -= 1.0 - p;
    }
    let mut rhs = vec![1.0_f64; states];
    // I − Q is a nonsingular M-matrix: elimination without pivoting is stable and keeps the band.
    for k in 0..states {
        let pivot = band[at(k, k)];
        let last_col = (k + up).min(states - 1);
        for i in k + 1..=(k + down).min(states - 1) {
            let factor = band[at(i, k)] / pivot;
            if factor == 0.0 {
                continue;
            }
            for j in k..=last_col {
                band[at(i, j)] -= factor * band[at(k, j)];
            }
            rhs[i] -= factor * rhs[k];
        }
    }
    let mut solution = vec![0.0_f64; states];
    for i in (0..states).rev() {
        let sum: f64 = (i + 1..=(i + up).min(states - 1))
            .map(|j| band[at(i, j)] * solution[j])
            .sum();
        solution[i] = (rhs[i] - sum) / band[at(i, i)];
    }
    solution[0]
}

/// The least threshold whose in-control run length reaches `target` calls, searched outward
/// from a guess (in lattice units).
pub fn threshold_for(p0: f64, up: u32, down: u32, target: f64, guess: f64) -> u32 {
    let guess = (guess.round() as u32).max(1);
    let (mut low, mut high) = if run_length(p0, up, down, guess) >= target {
        let mut low = guess;
        while low > 1 && run_length(p0, up, down, low) >= target {
            low = low.saturating_sub((low / 8).max(1));
        }
        (low, guess)
    } else {
        let mut high = guess;
        while run_length(p0, up, down, high) < target {
            high += (high / 8).max(1);
        }
        (guess, high)
    };
    if run_length(p0, up, down, low) >= target {
        return low;
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if run_length(p0, up, down, mid) >= target {
            high = mid;
        } else {
            low = mid;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symmetric_walk_matches_the_closed_form() {
        // Steps ±1 with p = 1/2 and a floor at 0: the run length to H is H(H+1).
        for h in [1, 2, 5, 10] {
            let arl = run_length(0.5, 1, 1, h);
            let exact = f64::from(h * (h + 1));
            assert!((arl - exact).abs() < 1e-6, "H={h}: {arl} vs {exact}");
        }
    }

    #[test]
    fn a_walk_that_only_climbs_takes_threshold_over_step_calls() {
        assert!((run_length(1.0, 3, 1, 9) - 3.0).abs() < 1e-9);
        assert!((run_length(1.0, 3, 1, 10) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn the_threshold_is_the_least_that_meets_the_budget() {
        let h = threshold_for(0.04, 60, 7, 10_000.0, 400.0);
        assert!(run_length(0.04, 60, 7, h) >= 10_000.0);
        assert!(run_length(0.04, 60, 7, h - 1) < 10_000.0);
    }
}
