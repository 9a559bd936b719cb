//! Drills (`flightdeck drill`): the cockpit on a built-in scenario whose name stays hidden until
//! the scorecard. Pure: what the scenario was, and how the responder did.

pub mod scorecard;

use crate::model::{Category, MitigationKind};
use crate::sim::scenario::Scenario;

pub use scorecard::{Decision, Scorecard, TriageSaid};

/// What a drill's scenario was, revealed only by the scorecard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub scenario: String,
    pub description: String,
    /// The category the scenario's cause belongs to.
    pub truth: Category,
}

impl Answer {
    /// The answer to a built-in scenario; `None` for an unknown name or a scenario with no
    /// cause to find.
    pub fn builtin(name: &str) -> Option<Self> {
        let scenario = Scenario::builtin(name)?.ok()?;
        Some(Self {
            truth: scenario.category?,
            scenario: scenario.name,
            description: scenario.summary,
        })
    }

    /// The mitigation that counts as right: the first one of the true category. In red-herring
    /// the cause is the model, so the model pin is right and rolling back the innocent prompt
    /// change is the trap, counted as a wrong mitigation.
    pub fn right_mitigation(&self) -> MitigationKind {
        self.truth.first_mitigation()
    }
}

/// Picks a built-in scenario from a seed, for `--scenario random`. The seed is mixed first
/// (splitmix64's finaliser): a clock that only ticks in microseconds, or a seed read off the
/// screen, must not tell which scenario plays.
pub fn pick(seed: u64) -> &'static str {
    let names = Scenario::builtin_names();
    names[(mixed(seed) % names.len() as u64) as usize]
}

fn mixed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_has_an_answer_and_random_picks_among_them() {
        for name in Scenario::builtin_names() {
            let answer = Answer::builtin(name).expect("a built-in with a cause");
            assert_eq!(answer.scenario, name);
            assert!(!answer.description.is_empty());
        }
        assert_eq!(
            Answer::builtin("red-herring").unwrap().right_mitigation(),
            MitigationKind::ModelPin
        );
        assert!(Answer::builtin("no-such-scenario").is_none());
        let picked: std::collections::HashSet<_> = (0..20).map(pick).collect();
        assert_eq!(picked.len(), Scenario::builtin_names().len());
        // A clock counting whole microseconds gives seeds that are multiples of 1000.
        let coarse: std::collections::HashSet<_> = (0..50).map(|i| pick(i * 1000)).collect();
        assert_eq!(coarse.len(), Scenario::builtin_names().len());
    }
}
