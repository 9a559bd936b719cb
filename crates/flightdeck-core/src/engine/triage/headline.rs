//! From the steps to the headline: a cause, "unexplained" with what would decide it, or not yet
//! enough calls to say either.

use super::{Evidence, Ranked, Step, Verdict, duration, hm, relative_to_onset};
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::Dimension;
use crate::model::ChangeKind;

/// What the triage says in one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Headline {
    /// The ranking's leader, with a likely or suspect step behind it.
    Cause(Ranked),
    /// Every step ruled out: nothing the triage can see explains the failure.
    Unexplained {
        /// What was ruled out and why, one line a step.
        evidence: Vec<String>,
        /// What evidence, had the cockpit had it, could name the cause.
        would_decide: Vec<String>,
    },
    /// No step likely or suspect while some still lack the calls to decide: not unexplained yet.
    InsufficientData {
        /// What the undecided steps wait for.
        waiting: Vec<String>,
    },
}

/// Under this share of calls carrying an evaluator label or a thumb, a split by version,
/// feature or segment is seldom significant: more labels would decide more.
const LABELLED_SHARE_TO_DECIDE: f64 = 0.5;

/// What the steps add up to: the ranking's leader once a step points anywhere, else not yet
/// while a step waits for calls, else unexplained.
pub(super) fn headline(
    e: &Evidence,
    steps: &[Step],
    leading: Ranked,
    metric: MetricId,
) -> Headline {
    if steps
        .iter()
        .any(|s| matches!(s.verdict, Verdict::Likely | Verdict::Suspect))
    {
        return Headline::Cause(leading);
    }
    let undecided: Vec<&Step> = steps
        .iter()
        .filter(|s| s.verdict == Verdict::InsufficientData)
        .collect();
    if !undecided.is_empty() {
        let mut waiting: Vec<String> = Vec::new();
        for line in undecided.iter().flat_map(|s| &s.evidence) {
            if !waiting.contains(line) {
                waiting.push(line.clone());
            }
        }
        return Headline::InsufficientData { waiting };
    }
    Headline::Unexplained {
        evidence: steps
            .iter()
            .map(|s| format!("{} ruled out: {}", s.category, s.evidence.join("; ")))
            .collect(),
        would_decide: would_decide(e, metric),
    }
}

/// The evidence the cockpit lacked, most telling first: a record of what changed, labels on
/// more calls, the served model's name, and attributes that split the traffic.
fn would_decide(e: &Evidence, metric: MetricId) -> Vec<String> {
    let since = Span::through(e.onset, e.end);
    let calls = e.minutes.transport(since).failed.n;
    let share = |part: u64| part as f64 / calls.max(1) as f64;
    let mut lines = Vec::new();
    // A service deploy or a flag flip the triage cannot see into: what it changed would say.
    let unread = e.changes.iter().rev().find(|r| {
        matches!(
            r.change.kind,
            ChangeKind::Deploy | ChangeKind::ConfigChange | ChangeKind::FlagChange
        ) && !r.is_mitigation()
            && r.change.ts >= e.onset - e.prompt_window
            && r.change.ts <= e.onset + e.onset_tolerance
    });
    lines.push(match unread {
        Some(r) => {
            format!(
                "what {} at {} ({}) changed: a prompt or model change record for it",
                r.change.named(),
                hm(r.change.ts),
                relative_to_onset(r.change.ts, e.onset)
            )
        }
        None => format!(
            "a change record for the deploy that preceded {}, if there was one: none in the {} before",
            hm(e.onset),
            duration(e.prompt_window)
        ),
    });
    let labelled = match metric {
        MetricId::Hallucination => Some("evaluator labels"),
        MetricId::Feedback => Some("user feedback"),
        _ => None,
    };
    if let Some(what) = labelled {
        let carried = share(e.minutes.rate(metric, None, since).n);
        if carried < LABELLED_SHARE_TO_DECIDE {
            lines.push(format!(
                "{what} on more calls: {:.0}% of calls since {} carry them",
                carried * 100.0,
                hm(e.onset)
            ));
        }
    }
    let segments = e.minutes.segment_calls(since);
    let served: u64 = segments
        .iter()
        .filter(|((dimension, _), _)| *dimension == Dimension::ModelServed)
        .map(|(_, count)| count)
        .sum();
    if share(served) < 0.5 {
        lines.push(format!(
            "the served model name on the calls (model_served): {:.0}% carry it, so a model \
             update under the same name shows only in the answers",
            share(served) * 100.0
        ));
    }
    if !segments
        .keys()
        .any(|(dimension, _)| matches!(dimension, Dimension::Attribute(_)))
    {
        lines.push(
            "input segments on the calls (tenant, source or intent attributes): none carried, \
             so no part of the traffic can be singled out"
                .into(),
        );
    }
    lines
}
