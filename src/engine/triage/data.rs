//! Data: the inputs moved (new segments or vocabulary) with no release explaining it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Evidence, StepOutcome, Verdict, concentrated, pct, shown};
use crate::engine::metrics::MetricId;
use crate::engine::observation::{Dimension, Observation, Symbol};
use crate::engine::{proportion, slice};

/// Shares of each value of a dimension in a window.
fn shares(observations: &[&Observation], dimension: Dimension) -> BTreeMap<Symbol, f64> {
    let mut counts: BTreeMap<Symbol, usize> = BTreeMap::new();
    let mut total = 0;
    for o in observations {
        if let Some(value) = o.dimension(dimension) {
            *counts.entry(value).or_default() += 1;
            total += 1;
        }
    }
    counts
        .into_iter()
        .map(|(value, count)| (value, count as f64 / total.max(1) as f64))
        .collect()
}

/// Share of the terms in `recent` that never occur in `vocabulary`.
fn new_term_share(
    recent: &[&Observation],
    vocabulary: &HashSet<Symbol>,
) -> (f64, HashMap<Symbol, usize>) {
    let mut total = 0usize;
    let mut unseen: HashMap<Symbol, usize> = HashMap::new();
    for term in recent.iter().flat_map(|o| o.terms.iter()) {
        total += 1;
        if !vocabulary.contains(term) {
            *unseen.entry(*term).or_default() += 1;
        }
    }
    let share = unseen.values().sum::<usize>() as f64 / total.max(1) as f64;
    (share, unseen)
}

pub(super) fn step(e: &Evidence, metric: MetricId, explained: bool) -> StepOutcome {
    let base: Vec<&Observation> = slice(e.observations, e.baseline.from, e.baseline.to).collect();
    let recent: Vec<&Observation> = slice(e.observations, e.onset, e.end).collect();

    let mut new_segments = Vec::new();
    let mut largest_shift: Option<(Dimension, Symbol, f64)> = None;
    // The input side of a call: what it carries in its attributes, and which feature sent it.
    let dimensions: BTreeSet<Dimension> = base
        .iter()
        .chain(&recent)
        .flat_map(|o| o.dimensions().map(|(d, _)| d))
        .filter(|d| matches!(d, Dimension::Attribute(_) | Dimension::Feature))
        .collect();
    for dimension in dimensions {
        let before = shares(&base, dimension);
        for (value, share) in shares(&recent, dimension) {
            let was = before.get(&value).copied().unwrap_or(0.0);
            if share >= 0.10 && was < 0.02 {
                new_segments.push((dimension, value, share, was));
            }
            if largest_shift.is_none_or(|(_, _, s)| (share - was).abs() > s.abs()) {
                largest_shift = Some((dimension, value, share - was));
            }
        }
    }

    // The baseline's own rate of unseen terms is the yardstick: its last quarter against the rest.
    let split = base.len() * 3 / 4;
    let early: HashSet<Symbol> = base[..split]
        .iter()
        .flat_map(|o| o.terms.iter().copied())
        .collect();
    let (expected, _) = new_term_share(&base[split..], &early);
    let vocabulary: HashSet<Symbol> = base.iter().flat_map(|o| o.terms.iter().copied()).collect();
    let (observed, unseen) = new_term_share(&recent, &vocabulary);
    let mut top_terms: Vec<(Symbol, usize)> = unseen.into_iter().collect();
    top_terms.sort_by_key(|(term, count)| (std::cmp::Reverse(*count), *term));
    let top_terms: Vec<&str> = top_terms
        .iter()
        .take(3)
        .map(|(t, _)| e.interner.name(*t))
        .collect();
    let vocabulary_line = format!(
        "new terms {} of input words (base {}){}",
        pct(Some(observed)),
        pct(Some(expected)),
        if top_terms.is_empty() {
            String::new()
        } else {
            format!(": {}", top_terms.join(", "))
        }
    );
    let vocabulary_moved = observed >= expected + 0.10;

    // The largest new segment speaks for the shift.
    new_segments.sort_by(|a, b| b.2.total_cmp(&a.2));
    let Some((dimension, value, share, was)) = new_segments.first().copied() else {
        let shift = largest_shift.map_or("none".into(), |(d, v, s)| {
            format!(
                "{}={} {:+.0} pts",
                d.label(e.interner),
                e.interner.name(v),
                s * 100.0
            )
        });
        return if vocabulary_moved {
            let verdict = if explained {
                Verdict::Suspect
            } else {
                Verdict::Likely
            };
            (
                verdict,
                vec![vocabulary_line, format!("largest segment shift {shift}")],
            )
        } else {
            (
                Verdict::RuledOut,
                vec![
                    format!("input mix stable: largest shift {shift}"),
                    vocabulary_line,
                ],
            )
        };
    };
    let name = e.interner.name(value);
    let in_segment = proportion(
        metric,
        recent
            .iter()
            .copied()
            .filter(|o| o.dimension(dimension) == Some(value)),
    );
    let elsewhere = proportion(
        metric,
        recent
            .iter()
            .copied()
            .filter(|o| o.dimension(dimension) != Some(value)),
    );
    let verdict = if explained {
        Verdict::Suspect
    } else if concentrated(metric, in_segment, elsewhere) || vocabulary_moved {
        Verdict::Likely
    } else {
        Verdict::Suspect
    };
    (
        verdict,
        vec![
            format!(
                "new {}={name}: {:.0}% of calls since onset ({:.0}% in baseline)",
                dimension.label(e.interner),
                share * 100.0,
                was * 100.0
            ),
            format!(
                "{} {} there vs {} elsewhere; {vocabulary_line}",
                metric.label(),
                pct(shown(metric, in_segment)),
                pct(shown(metric, elsewhere))
            ),
        ],
    )
}
