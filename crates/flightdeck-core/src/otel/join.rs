//! What log records add to a call (evaluation results, older GenAI input and output messages),
//! attached to their call by span. Either may arrive first: a call is held for the join window
//! waiting for its additions, and an addition is kept as long waiting for its call; one whose
//! call never comes is given up and reported.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::batch::{Addition, SpanKey};
use super::messages::Side;
use crate::model::{Call, Eval};

pub struct EvalJoin {
    window: Duration,
    held: HashMap<SpanKey, (Call, Additions)>,
    /// Held calls by deadline; a key whose call has left is skipped.
    held_order: VecDeque<(Instant, SpanKey)>,
    early: HashMap<SpanKey, Additions>,
    early_order: VecDeque<(Instant, SpanKey)>,
    /// Spans whose call left lately, oldest first, so an addition that comes after it says so.
    handed_on: HashSet<SpanKey>,
    handed_on_order: VecDeque<SpanKey>,
    late: Vec<(SpanKey, String)>,
}

/// How many handed-on spans are remembered: a few seconds of traffic, a few MB at most.
const RECENTLY_HANDED_ON: usize = 10_000;

/// What log records added to one span's call so far.
#[derive(Debug, Default)]
struct Additions {
    /// By name: a retried log batch repeats a result rather than adding one.
    evals: BTreeMap<String, Eval>,
    /// The last user message (what was asked now), and the event it came in.
    input: Option<(String, String)>,
    /// The first choice (what was answered), and the event it came in.
    output: Option<(String, String)>,
}

impl Additions {
    fn add(&mut self, addition: Addition) {
        match addition {
            Addition::Evaluation(evaluation) => {
                self.evals.insert(evaluation.name, evaluation.eval);
            }
            Addition::Message(message) => {
                let text = (message.event, message.text);
                match message.side {
                    Side::Input => self.input = Some(text),
                    Side::Output => {
                        self.output.get_or_insert(text);
                    }
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.evals.len() + usize::from(self.input.is_some()) + usize::from(self.output.is_some())
    }

    /// Evaluations join the call's own; texts fill only an input or output the span lacked.
    fn apply(self, call: &mut Call) {
        call.evals.extend(self.evals);
        if call.input.is_none() {
            call.input = self.input.map(|(_, text)| text);
        }
        if call.output.is_none() {
            call.output = self.output.map(|(_, text)| text);
        }
    }

    /// What each addition is, for reporting ones whose call never came.
    fn described(self) -> impl Iterator<Item = String> {
        let evals = self
            .evals
            .into_keys()
            .map(|name| format!("evaluation {name:?}"));
        let texts = self
            .input
            .into_iter()
            .chain(self.output)
            .map(|(event, _)| format!("{event} log record"));
        evals.chain(texts)
    }
}

/// What left the join: calls whose window passed, in arrival order, and additions whose call
/// never arrived within the window.
#[derive(Debug, Default)]
pub struct Released {
    pub calls: Vec<Call>,
    /// The span and what the addition was (`evaluation "hallucination"`, `gen_ai.choice log
    /// record`).
    pub orphans: Vec<(SpanKey, String)>,
    /// Additions that came after their call had been handed on, as `orphans`.
    pub late: Vec<(SpanKey, String)>,
}

impl EvalJoin {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            held: HashMap::new(),
            held_order: VecDeque::new(),
            early: HashMap::new(),
            early_order: VecDeque::new(),
            handed_on: HashSet::new(),
            handed_on_order: VecDeque::new(),
            late: Vec::new(),
        }
    }

    /// Takes a call with the additions that came before it; an exporter's retry of a call
    /// still held is the same call and is ignored.
    pub fn add_call(&mut self, key: SpanKey, call: Call, now: Instant) {
        if self.held.contains_key(&key) {
            return;
        }
        let additions = self.early.remove(&key).unwrap_or_default();
        self.held_order.push_back((now + self.window, key.clone()));
        self.held.insert(key, (call, additions));
    }

    pub fn add(&mut self, addition: Addition, now: Instant) {
        let key = addition.key();
        if let Some((_, additions)) = self.held.get_mut(&key) {
            additions.add(addition);
            return;
        }
        if self.handed_on.contains(&key) {
            let mut lone = Additions::default();
            lone.add(addition);
            self.late
                .extend(lone.described().map(|what| (key.clone(), what)));
            return;
        }
        let waiting = self.early.entry(key.clone()).or_default();
        if waiting.len() == 0 {
            self.early_order.push_back((now + self.window, key));
        }
        waiting.add(addition);
    }

    /// Everything whose window has passed by `now`.
    pub fn release(&mut self, now: Instant) -> Released {
        let mut released = Released {
            late: std::mem::take(&mut self.late),
            ..Released::default()
        };
        while let Some((deadline, _)) = self.held_order.front() {
            if *deadline > now {
                break;
            }
            let (_, key) = self.held_order.pop_front().expect("a front entry");
            if let Some((mut call, additions)) = self.held.remove(&key) {
                additions.apply(&mut call);
                released.calls.push(call);
                self.remember_handed_on(key);
            }
        }
        while let Some((deadline, _)) = self.early_order.front() {
            if *deadline > now {
                break;
            }
            let (_, key) = self.early_order.pop_front().expect("a front entry");
            if let Some(additions) = self.early.remove(&key) {
                released
                    .orphans
                    .extend(additions.described().map(|what| (key.clone(), what)));
            }
        }
        released
    }

    fn remember_handed_on(&mut self, key: SpanKey) {
        if self.handed_on_order.len() == RECENTLY_HANDED_ON
            && let Some(oldest) = self.handed_on_order.pop_front()
        {
            self.handed_on.remove(&oldest);
        }
        self.handed_on.insert(key.clone());
        self.handed_on_order.push_back(key);
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
        let end = end.unwrap_or_else(Instant::now);
        self.release(end)
    }

    /// When the next call or addition is due to leave.
    pub fn next_deadline(&self) -> Option<Instant> {
        let call = self.held_order.front().map(|(deadline, _)| *deadline);
        let addition = self.early_order.front().map(|(deadline, _)| *deadline);
        call.into_iter().chain(addition).min()
    }

    /// Calls and additions waiting.
    pub fn waiting(&self) -> usize {
        self.held.len() + self.early.values().map(Additions::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::otel::evaluation::Evaluation;
    use crate::otel::messages::LogMessage;

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

    fn evaluation(span: &str, name: &str) -> Addition {
        Addition::Evaluation(Evaluation {
            trace_id: key(span).trace_id,
            span_id: span.into(),
            name: name.into(),
            eval: Eval::Flag(true),
        })
    }

    const WINDOW: Duration = Duration::from_millis(2000);

    #[test]
    fn evaluations_join_their_call_whichever_comes_first() {
        let start = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add(evaluation("a", "hallucination"), start);
        join.add_call(key("a"), call("a"), start + Duration::from_millis(500));
        join.add_call(key("b"), call("b"), start + Duration::from_millis(600));
        join.add(
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
        join.add(evaluation("z", "hallucination"), start);
        assert_eq!(join.next_deadline(), Some(start + WINDOW));
        let released = join.release(start + WINDOW);
        assert_eq!(
            released.orphans,
            [(key("z"), "evaluation \"hallucination\"".to_string())]
        );
        // One that comes after its call has left is reported as late, at once.
        join.add_call(key("c"), call("c"), start);
        join.release(start + WINDOW);
        join.add(evaluation("c", "refusal"), start + WINDOW);
        assert_eq!(join.waiting(), 0);
        let released = join.release(start + WINDOW);
        assert!(released.orphans.is_empty());
        assert_eq!(
            released.late,
            [(key("c"), "evaluation \"refusal\"".to_string())]
        );
    }

    fn message(span: &str, side: Side, text: &str) -> Addition {
        Addition::Message(LogMessage {
            trace_id: key(span).trace_id,
            span_id: span.into(),
            event: "gen_ai.user.message".into(),
            side,
            text: text.into(),
        })
    }

    #[test]
    fn messages_fill_only_the_texts_the_span_lacked() {
        let now = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add(message("a", Side::Input, "earlier turn"), now);
        join.add(message("a", Side::Input, "refund?"), now);
        join.add(message("a", Side::Output, "first choice"), now);
        join.add(message("a", Side::Output, "second choice"), now);
        let mut answered = call("b");
        answered.output = Some("from the span".into());
        join.add_call(key("a"), call("a"), now);
        join.add_call(key("b"), answered, now);
        join.add(message("b", Side::Output, "from a log"), now);
        join.add(message("b", Side::Input, "asked"), now);
        let calls = join.release_all().calls;
        assert_eq!(calls[0].input.as_deref(), Some("refund?"));
        assert_eq!(calls[0].output.as_deref(), Some("first choice"));
        assert_eq!(calls[1].output.as_deref(), Some("from the span"));
        assert_eq!(calls[1].input.as_deref(), Some("asked"));
    }

    #[test]
    fn a_retried_evaluation_waits_once() {
        let now = Instant::now();
        let mut join = EvalJoin::new(WINDOW);
        join.add(evaluation("z", "refusal"), now);
        join.add(evaluation("z", "refusal"), now);
        assert_eq!(join.waiting(), 1);
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
