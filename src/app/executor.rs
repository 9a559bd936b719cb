//! One way effects are carried out: `App::dispatch` applies an action, hands each effect to an
//! [`Executor`] and applies what it reports at once, in order. The runtime's executor is the real
//! edge; the tests' carries the effects out in process.

use std::collections::VecDeque;

use super::{Action, App, Effect};

/// Carries out the app's effects.
pub trait Executor {
    /// Carries out one effect, or hands it over to whatever will. What it knows at once (a
    /// hand-over that failed, a write made synchronously) comes back as actions.
    fn execute(&mut self, effect: Effect) -> Vec<Action>;
}

impl App {
    /// Applies `action`, carries out its effects with `executor`, and applies the actions they
    /// report, in the order reported, until nothing is left.
    pub fn dispatch(&mut self, action: Action, executor: &mut impl Executor) {
        let mut queue = VecDeque::from([action]);
        while let Some(action) = queue.pop_front() {
            for effect in self.update(action) {
                queue.extend(executor.execute(effect));
            }
        }
    }
}
