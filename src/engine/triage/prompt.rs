//! Prompt: a prompt deployed within the prompt window before the onset, with the change
//! concentrated in the new version's calls.

use chrono::Duration;

use super::{
    Evidence, PromptChange, StepOutcome, Verdict, after_onset_line, candidates, concentrated,
    dominant, duration, hm, pct, relative_to_onset, segment_rate, shown, split_line, symbol,
    too_late,
};
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::Dimension;
use crate::model::ChangeKind;

pub(super) fn step(e: &Evidence, metric: MetricId) -> (StepOutcome, Option<PromptChange>) {
    let Some(change) = candidates(e, ChangeKind::PromptDeploy, e.prompt_window).last() else {
        let live = dominant(e, Dimension::PromptVersion, Span::through(e.onset, e.end));
        let mut lines = vec![format!(
            "no prompt deploy in the {} before onset; {} live at onset",
            duration(e.prompt_window),
            live.unwrap_or("one version")
        )];
        let earlier = e.changes.iter().rev().find(|r| {
            r.change.kind == ChangeKind::PromptDeploy
                && !r.is_mitigation()
                && r.change.ts < e.onset - e.prompt_window
        });
        lines.extend(earlier.map(|r| {
            format!(
                "{} deployed {}, {}: too long before to be the cause",
                r.change.to.as_deref().unwrap_or("a version"),
                hm(r.change.ts),
                relative_to_onset(r.change.ts, e.onset)
            )
        }));
        lines.extend(too_late(e, ChangeKind::PromptDeploy).map(|r| after_onset_line(e, r)));
        return ((Verdict::RuledOut, lines), None);
    };
    let c = &change.change;
    let prompt_change = Some(PromptChange {
        from: c.from.clone(),
        to: c.to.clone(),
        text_from: c.text_from.clone(),
        text_to: c.text_to.clone(),
    });
    let new = symbol(e, c.to.as_deref());
    let old = symbol(e, c.from.as_deref());
    let to_name = c.to.as_deref().unwrap_or("new");
    let from_name = c.from.as_deref().unwrap_or("old");
    let deployed = format!(
        "{to_name} deployed {}{}, {}",
        hm(c.ts),
        c.author
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default(),
        relative_to_onset(c.ts, e.onset)
    );
    // Up to the minute before the onset's, so no call of the failure counts as healthy.
    let healthy_run = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        new,
        Span::ending_by(c.ts, e.onset),
    );
    let baseline = e.minutes.rate(
        metric,
        None,
        Span::ending_by(e.baseline.from, e.baseline.to),
    );
    if e.onset - c.ts >= Duration::minutes(20)
        && healthy_run.n >= 100
        && !concentrated(metric, healthy_run, baseline)
    {
        return (
            (
                Verdict::RuledOut,
                vec![
                    deployed,
                    format!(
                        "{to_name} healthy for {}: {} {} before onset",
                        duration(e.onset - c.ts),
                        metric.label(),
                        pct(shown(metric, healthy_run))
                    ),
                ],
            ),
            prompt_change,
        );
    }
    let on_new = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        new,
        Span::through(c.ts, e.end),
    );
    let on_old = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        old,
        Span::through(e.baseline.from, c.ts),
    );
    let split = split_line(metric, (to_name, on_new), (from_name, on_old));
    let verdict = if concentrated(metric, on_new, on_old) {
        Verdict::Likely
    } else {
        Verdict::Suspect
    };
    ((verdict, vec![split, deployed]), prompt_change)
}
