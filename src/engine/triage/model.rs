//! Model: a served-model change shortly before the onset, with the change concentrated in the
//! new model's calls.

use chrono::Duration;

use super::{
    Evidence, StepOutcome, Verdict, after_onset_line, candidates, concentrated, dominant, hm,
    relative_to_onset, segment_rate, split_line, symbol, too_late,
};
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::Dimension;
use crate::model::{ChangeKind, ChangeOrigin};

/// How long before the onset a model change is still a suspect.
pub(super) fn model_window() -> Duration {
    Duration::hours(2)
}

/// A model change this close to the onset, concentrated in the new model, is likely the cause.
fn likely_gap() -> Duration {
    Duration::minutes(15)
}

pub(super) fn step(e: &Evidence, metric: MetricId) -> StepOutcome {
    let Some(change) = candidates(e, ChangeKind::ModelChange, model_window()).last() else {
        let served = dominant(e, Dimension::ModelServed, Span::through(e.onset, e.end));
        let mut lines = vec![format!(
            "no model change in the 2h before onset; served {} at onset",
            served.unwrap_or("—")
        )];
        lines.extend(too_late(e, ChangeKind::ModelChange).map(|r| after_onset_line(e, r)));
        return (Verdict::RuledOut, lines);
    };
    let c = &change.change;
    let new = symbol(e, c.to.as_deref());
    let old = symbol(e, c.from.as_deref());
    let on_new = segment_rate(
        e,
        metric,
        Dimension::ModelServed,
        new,
        Span::through(c.ts, e.end),
    );
    let on_old = segment_rate(
        e,
        metric,
        Dimension::ModelServed,
        old,
        Span::through(e.baseline.from, c.ts),
    );
    let gap = (e.onset - c.ts).abs();
    let when = format!(
        "{} {} at {} ({}){}",
        c.target,
        c.transition(),
        hm(c.ts),
        relative_to_onset(c.ts, e.onset),
        if change.origin == ChangeOrigin::InferredFromCalls {
            "; seen in calls: a floating alias"
        } else {
            ""
        }
    );
    let split = split_line(
        metric,
        (c.to.as_deref().unwrap_or("new"), on_new),
        (c.from.as_deref().unwrap_or("old"), on_old),
    );
    let verdict = if concentrated(metric, on_new, on_old) {
        if gap <= likely_gap() {
            Verdict::Likely
        } else {
            Verdict::Suspect
        }
    } else {
        Verdict::RuledOut
    };
    (verdict, vec![when, split])
}
