//! Evaluation results sent as log records, attached to their call by span. Either may arrive
//! first: a call is held for the join window waiting for its evaluations, and an evaluation is
//! kept as long waiting for its call; one whose call never comes is given up and reported.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::batch::SpanKey;
use super::evaluation::Evaluation;
use crate::model::{Call, Eval};

pub struct EvalJoin {
    window: Duration,
    held: HashMap<SpanKey, Call>,
    /// Held calls by deadline; a key whose call has left is skipped.
    held_order: VecDeque<(Instant, SpanKey)>,
    early: HashMap<SpanKey, Vec<(String, Eval)>>,
    early_order: VecDeque<(Instant, SpanKey)>,
}

/// What left the join: calls whose window passed, in arrival order, and evaluations whose call
/// never arrived within the window.
#[derive(Debug, Default)]
pub struct Released {
    pub calls: Vec<Call>,
    pub orphans: Vec<(SpanKey, String)>,
}

impl EvalJoin {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            held: HashMap::new(),
            held_order: VecDeque::new(),
            early: HashMap::new(),
            early_order: VecDeque::new(),
        }
    }

    /// Takes a call with the evaluations that came before it; an exporter's retry of a call
    /// still held is the same call and is ignored.
    pub fn add_call(&mut self, key: SpanKey, mut call: Call, now: Instant) {
        if self.held.contains_key(&key) {
            return;
        }
        if let Some(evaluations) = self.early.remove(&key) {
            call.evals.extend(evaluations);
        }
        self.held_order.push_back((now + self.window, key.clone()));
        self.held.insert(key, call);
    }

    pub fn add_evaluation(&mut self, evaluation: Evaluation, now: Instant) {
        let key = SpanKey {
            trace_id: evaluation.trace_id,
            span_id: evaluation.span_id,
        };
        if let Some(call) = self.held.get_mut(&key) {
            call.evals.insert(evaluation.name, evaluation.eval);
            return;
        }
        let waiting = self.early.entry(key.clone()).or_default();
        if waiting.is_empty() {
            self.early_order.push_back((now + self.window, key));
        }
        waiting.push((evaluation.name, evaluation.eval));
    }

    /// Everything whose window has passed by `now`.
    pub fn release(&mut self, now: Instant) -> Released {
        let mut released = Released::default();
        while let Some((deadline, _)) = self.held_order.front() {
            if *deadline > now {
                break;
            }
            let (_, key) = self.held_order.pop_front().expect("a front entry");
            released.calls.extend(self.held.remove(&key));
        }
        while let Some((deadline, _)) = self.early_order.front() {
            if *deadline > now {
                break;
            }
            let (_, key) = self.early_order.pop_front().expect("a front entry");
            if let Some(evaluations) = self.early.remove(&key) {
                released
                    .orphans
                    .extend(evaluations.into_iter().map(|(name, _)| (key.clone(), name)));
            }
        }
        released
    }

    /// Everything, at once: the receiver is stopping.
    pub fn release_all(&mut self) -> Released {
        let end = self
            .held_order
            .back()
            .into_iter()
            .chain(self.early_order.back())
            .map(|(deadline, _)| *deadline)
            .max();
        end.map(|end| self.release(end)).unwrap_or_default()
    }

    /// When the next call or evaluation is due to leave.
    pub fn next_deadline(&self) -> Option<Instant> {
        let call = self.held_order.front().map(|(deadline, _)| *deadline);
        let evaluation = self.early_order.front().map(|(deadline, _)| *deadline);
        call.into_iter().chain(evaluation).min()
    }

    /// Calls and evaluations waiting.
    pub fn waiting(&self) -> usize {
        self.held.len() + self.early.values().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(span: &str) -> SpanKey {
        SpanKey {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: span.into(),
        }
    }

    fn call(id: &str) -> Call {
        serde_json::from_value(json!({
            "ts": "2026-03-14T13:15:00Z", "feature": "f", "model_requested": "m",
            "status": "ok", "latency_ms": 1, "request_id": id,
        }))
        .unwrap()
    }

    fn evaluation(span: &str, name: &str) -> Evaluation {
        Evaluation {
            trace_id: key(span).trace_id,
            span_id: span.into(),
            name: name.into(),
            eval: Eval::Flag(true),
        }
    }

    const WINDOW: Duration = Duration::from_millis(2000);

    #[test]
    fn evaluations_join_their_call_whichever_comes_first() {
        let start = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add_evaluation(evaluation("a", "hallucination"), start);
        join.add_call(key("a"), call("a"), start + Duration::from_millis(500));
        join.add_call(key("b"), call("b"), start + Duration::from_millis(600));
        join.add_evaluation(
            evaluation("b", "refusal"),
            start + Duration::from_millis(1500),
        );
        assert!(
            join.release(start + Duration::from_millis(2499))
                .calls
                .is_empty()
        );
        let released = join.release(start + Duration::from_millis(2600));
        let evals: Vec<Vec<&String>> = released
            .calls
            .iter()
            .map(|c| c.evals.keys().collect())
            .collect();
        assert_eq!(evals, [vec!["hallucination"], vec!["refusal"]]);
        assert!(released.orphans.is_empty());
        assert_eq!(join.waiting(), 0);
    }

    #[test]
    fn an_evaluation_whose_call_never_comes_is_given_up_after_the_window() {
        let start = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add_evaluation(evaluation("z", "hallucination"), start);
        assert_eq!(join.next_deadline(), Some(start + WINDOW));
        let released = join.release(start + WINDOW);
        assert_eq!(released.orphans, [(key("z"), "hallucination".to_string())]);
        // One that comes after its call has left is an orphan too.
        join.add_call(key("c"), call("c"), start);
        join.release(start + WINDOW);
        join.add_evaluation(evaluation("c", "refusal"), start + WINDOW);
        assert_eq!(join.release_all().orphans.len(), 1);
    }

    #[test]
    fn a_retried_call_still_held_is_taken_once() {
        let now = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add_call(key("a"), call("a"), now);
        join.add_call(key("a"), call("a"), now);
        assert_eq!(join.waiting(), 1);
        assert_eq!(join.release_all().calls.len(), 1);
    }

    #[test]
    fn with_no_window_calls_leave_at_once() {
        let now = Instant::now();
        let mut join = EvalJoin::new(Duration::ZERO);
        join.add_call(key("a"), call("a"), now);
        assert_eq!(join.release(now).calls.len(), 1);
    }
}
