//! Prompt: a prompt deployed within the prompt window before the onset, with the change
//! concentrated in the new version's calls and nowhere the deploy did not reach: a rise on
//! untouched features, or on a canary's previous version, points elsewhere (the model).

use std::collections::BTreeMap;

use chrono::Duration;
use foldhash::{HashMap, HashSet};

use super::{
    Evidence, PromptChange, StepOutcome, Verdict, after_onset_line, candidates, concentrated,
    concentrated_among, dominant, duration, hm, pct, relative_to_onset, segment_rate, shown, slice,
    split_line, symbol, too_late, worse_on_new_side,
};
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::{Dimension, Symbol};
use crate::engine::stats::{Proportion, rate_delta};
use crate::model::{Change, ChangeKind};

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
    // Healthy means measurably better than the same version since the onset: a quiet feature's
    // onset is found late, and its run before the estimate may hold the failure already.
    let since_onset = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        new,
        Span::through(e.onset, e.end),
    );
    let better_before = rate_delta(since_onset, healthy_run).is_some_and(|d| d.z >= 3.0);
    if e.onset - c.ts >= Duration::minutes(20)
        && healthy_run.n >= 100
        && !concentrated(metric, healthy_run, baseline)
        && better_before
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
    let since = SinceDeploy::scan(e, c, metric, new, old);
    let on_old_before = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        old,
        Span::through(e.baseline.from, c.ts),
    );
    // A canary's previous version serves the same period: the fairest comparison there is.
    let canary = since.old.n >= CANARY_MIN_CALLS;
    let (on_old, old_label) = if canary {
        (since.old, format!("{from_name} same period"))
    } else {
        (on_old_before, from_name.to_string())
    };
    let split = split_line(metric, (to_name, since.new), (&old_label, on_old));
    let mut lines = vec![split, deployed];
    let mut untouched = untouched_features(e, metric, &since);
    if canary {
        let base = segment_rate(
            e,
            metric,
            Dimension::PromptVersion,
            old,
            Span::ending_by(e.baseline.from, e.baseline.to),
        );
        untouched.insert(
            0,
            Untouched {
                name: format!("{from_name} (untouched, same period)"),
                recent: since.old,
                base,
            },
        );
    }
    let comparisons = untouched.len();
    let (rose, steady): (Vec<Untouched>, Vec<Untouched>) = untouched
        .into_iter()
        .partition(|u| concentrated_among(metric, u.recent, u.base, comparisons));
    let confined = worse_on_new_side(metric, since.new, on_old);
    let verdict = if confined && rose.is_empty() {
        if !steady.is_empty() {
            let parts: Vec<String> = steady
                .iter()
                .take(NAMED_SEGMENTS)
                .map(|u| u.at_baseline(metric))
                .collect();
            lines.push(format!(
                "{} rose only on {to_name}: {}",
                metric.label(),
                parts.join("; ")
            ));
        }
        Verdict::Likely
    } else {
        // A rise the deploy did not touch has another cause, which may explain this one too.
        lines.extend(
            rose.iter()
                .take(NAMED_SEGMENTS)
                .map(|u| format!("{} also rose on {}", metric.label(), u.change(metric))),
        );
        Verdict::Suspect
    };
    ((verdict, lines), prompt_change)
}

/// Fewer previous-version calls than this after a deploy are stragglers, not a canary's rest.
const CANARY_MIN_CALLS: u64 = 30;
/// Untouched segments named, a canary's previous version first, then the features with the
/// largest rise.
const NAMED_SEGMENTS: usize = 3;

/// The calls from the deploy to the end of the evidence: the deployed version's and the
/// previous one's on the features the deploy touched, and the features it did not touch.
struct SinceDeploy {
    new: Proportion,
    old: Proportion,
    /// Features none of whose calls ran the new version, each with its most common version.
    untouched: Vec<(Symbol, Option<Symbol>)>,
}

impl SinceDeploy {
    fn scan(
        e: &Evidence,
        change: &Change,
        metric: MetricId,
        new: Option<Symbol>,
        old: Option<Symbol>,
    ) -> Self {
        // Calls and outcomes by (feature, version).
        let mut cells: HashMap<(Option<Symbol>, Option<Symbol>), (u64, Proportion)> =
            HashMap::default();
        // Through the end: the call an evaluation is made at is evidence too.
        let through_end = e.end + Duration::nanoseconds(1);
        for o in slice(e.observations, change.ts, through_end) {
            let cell = cells
                .entry((
                    o.dimension(Dimension::Feature),
                    o.dimension(Dimension::PromptVersion),
                ))
                .or_default();
            cell.0 += 1;
            if let Some(bad) = metric.is_bad(o) {
                cell.1.add(bad);
            }
        }
        // The feature the record names, and every feature whose calls ran the new version.
        let mut touched: HashSet<Option<Symbol>> = HashSet::default();
        touched.insert(symbol(e, change.feature.as_deref()));
        touched.extend(
            cells
                .keys()
                .filter(|(_, version)| new.is_some() && *version == new)
                .map(|(feature, _)| *feature),
        );
        let mut since = Self {
            new: Proportion::default(),
            old: Proportion::default(),
            untouched: Vec::new(),
        };
        let mut versions: BTreeMap<Symbol, Vec<(u64, Option<Symbol>)>> = BTreeMap::new();
        for ((feature, version), (calls, outcomes)) in &cells {
            if touched.contains(feature) {
                if new.is_some() && *version == new {
                    since.new.merge(*outcomes);
                } else if old.is_some() && *version == old {
                    since.old.merge(*outcomes);
                }
            } else if let Some(feature) = feature {
                versions
                    .entry(*feature)
                    .or_default()
                    .push((*calls, *version));
            }
        }
        // Without a feature the deploy is known to have reached, none can be called untouched.
        if touched.iter().all(Option::is_none) {
            return since;
        }
        since.untouched = versions
            .into_iter()
            .map(|(feature, mut by_calls)| {
                by_calls.sort_by_key(|(calls, version)| (std::cmp::Reverse(*calls), *version));
                (feature, by_calls.first().and_then(|(_, version)| *version))
            })
            .collect();
        since
    }
}

/// A feature the deploy did not touch, or a canary's previous version: the metric since the
/// onset against its own baseline.
struct Untouched {
    /// "checkout-help (v4, untouched)".
    name: String,
    recent: Proportion,
    base: Proportion,
}

impl Untouched {
    /// "checkout-help (v4, untouched): 3% → 9%".
    fn change(&self, metric: MetricId) -> String {
        format!(
            "{}: {} → {}",
            self.name,
            whole_pct(metric, self.base),
            whole_pct(metric, self.recent)
        )
    }

    /// "checkout-help (v4, untouched) 3% (base 3%)".
    fn at_baseline(&self, metric: MetricId) -> String {
        format!(
            "{} {} (base {})",
            self.name,
            whole_pct(metric, self.recent),
            whole_pct(metric, self.base)
        )
    }
}

fn whole_pct(metric: MetricId, p: Proportion) -> String {
    shown(metric, p).map_or("—".into(), |r| format!("{:.0}%", r * 100.0))
}

/// The untouched features with calls carrying the metric since the onset, the largest rise
/// over their own baseline first.
fn untouched_features(e: &Evidence, metric: MetricId, since: &SinceDeploy) -> Vec<Untouched> {
    let mut features: Vec<Untouched> = since
        .untouched
        .iter()
        .map(|(feature, version)| {
            let segment = Some((Dimension::Feature, *feature));
            let version = version.map_or("no version".into(), |v| e.interner.name(v).to_string());
            Untouched {
                name: format!("{} ({version}, untouched)", e.interner.name(*feature)),
                recent: e
                    .minutes
                    .rate(metric, segment, Span::through(e.onset, e.end)),
                base: e.minutes.rate(
                    metric,
                    segment,
                    Span::ending_by(e.baseline.from, e.baseline.to),
                ),
            }
        })
        .filter(|u| u.recent.n > 0 && u.base.n > 0)
        .collect();
    let rise = |u: &Untouched| rate_delta(u.recent, u.base).map_or(f64::MIN, |d| d.z);
    features.sort_by(|a, b| rise(b).total_cmp(&rise(a)));
    features
}
