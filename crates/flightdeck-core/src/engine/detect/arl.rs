//! Average run lengths of an integer-step CUSUM, solved exactly from its Markov chain
//! (Brook & Evans 1972), and the least threshold that meets a false-alarm budget.

/// Expected calls until the score first reaches `threshold`, starting from zero, when each call
/// is bad with probability `p`, a bad call adds `up` and a good one subtracts `down` (floor 0).
pub fn run_length(p: f64, up: u32, down: u32, threshold: u32) -> f64 {
    Factored::new(p, up, down, threshold as usize).run_length(threshold as usize)
}

/// The chain's (I − Q) L = 1 eliminated once for thresholds up to `states`. The system of a
/// lower threshold is the leading block of this one (states at or past it are simply absent), and
/// elimination without pivoting keeps leading blocks intact, so the run length at any threshold
/// up to `states` then costs one back substitution.
struct Factored {
    up: usize,
    down: usize,
    states: usize,
    /// Band storage: row i keeps columns i−down ..= i+up.
    band: Vec<f64>,
    /// The right-hand side after elimination.
    rhs: Vec<f64>,
}

impl Factored {
    fn new(p: f64, up: u32, down: u32, states: usize) -> Self {
        let (up, down) = (up as usize, down as usize);
        let width = down + up + 1;
        let mut factored = Self {
            up,
            down,
            states,
            band: vec![0.0; states * width],
            rhs: vec![1.0; states],
        };
        for s in 0..states {
            *factored.at(s, s) += 1.0;
            if s + up < states {
                *factored.at(s, s + up) -= p;
            }
            *factored.at(s, s.saturating_sub(down)) -= 1.0 - p;
        }
        // I − Q is a nonsingular M-matrix: elimination without pivoting is stable and keeps the
        // band.
        for k in 0..states {
            let pivot = *factored.at(k, k);
            let last_col = (k + up).min(states - 1);
            for i in k + 1..=(k + down).min(states.saturating_sub(1)) {
                let factor = *factored.at(i, k) / pivot;
                if factor == 0.0 {
                    continue;
                }
                for j in k..=last_col {
                    let above = *factored.at(k, j);
                    *factored.at(i, j) -= factor * above;
                }
                factored.rhs[i] -= factor * factored.rhs[k];
            }
        }
        factored
    }

    fn at(&mut self, row: usize, col: usize) -> &mut f64 {
        let width = self.down + self.up + 1;
        &mut self.band[row * width + col + self.down - row]
    }

    fn get(&self, row: usize, col: usize) -> f64 {
        let width = self.down + self.up + 1;
        self.band[row * width + col + self.down - row]
    }

    /// The run length at `threshold` (at most `states`), by back substitution over its block.
    fn run_length(&self, threshold: usize) -> f64 {
        if threshold == 0 {
            return 1.0;
        }
        let mut solution = vec![0.0_f64; threshold];
        for i in (0..threshold).rev() {
            let sum: f64 = (i + 1..=(i + self.up).min(threshold - 1))
                .map(|j| self.get(i, j) * solution[j])
                .sum();
            solution[i] = (self.rhs[i] - sum) / self.get(i, i);
        }
        solution[0]
    }
}

/// The least threshold whose in-control run length reaches `target` calls, searched outward
/// from a guess (in lattice units).
pub fn threshold_for(p0: f64, up: u32, down: u32, target: f64, guess: f64) -> u32 {
    let guess = (guess.round() as usize).max(1);
    // Wald's guess is seldom far off: room for a quarter more, refactored if the search needs it.
    let room = |threshold: usize| threshold + threshold / 4 + 1;
    let mut factored = Factored::new(p0, up, down, room(guess));
    let mut run_length = |threshold: usize| {
        if threshold > factored.states {
            factored = Factored::new(p0, up, down, room(threshold));
        }
        factored.run_length(threshold)
    };
    let (mut low, mut high) = if run_length(guess) >= target {
        let mut low = guess;
        while low > 1 && run_length(low) >= target {
            low = low.saturating_sub((low / 8).max(1));
        }
        (low, guess)
    } else {
        let mut high = guess;
        while run_length(high) < target {
            high += (high / 8).max(1);
        }
        (guess, high)
    };
    if run_length(low) >= target {
        return low as u32;
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if run_length(mid) >= target {
            high = mid;
        } else {
            low = mid;
        }
    }
    high as u32
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
    fn one_elimination_gives_the_run_length_of_every_lower_threshold() {
        let factored = Factored::new(0.04, 60, 7, 900);
        for h in [1, 7, 60, 61, 300, 899, 900] {
            let alone = Factored::new(0.04, 60, 7, h).run_length(h);
            let shared = factored.run_length(h);
            assert!(
                (shared / alone - 1.0).abs() < 1e-9,
                "H={h}: {shared} vs {alone}"
            );
        }
    }

    #[test]
    fn the_threshold_is_the_least_that_meets_the_budget() {
        let h = threshold_for(0.04, 60, 7, 10_000.0, 400.0);
        assert!(run_length(0.04, 60, 7, h) >= 10_000.0);
        assert!(run_length(0.04, 60, 7, h - 1) < 10_000.0);
    }
}
