//! Data: the inputs moved (new segments or vocabulary) with no release explaining it.

use std::collections::BTreeMap;

use foldhash::HashMap;

use super::{Evidence, StepOutcome, Verdict, concentrated, hm, pct, shown, slice};
use crate::engine::InputDrift;
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::{Dimension, Symbol};
use crate::engine::stats::{Proportion, rate_delta};

/// Each dimension's values with their shares of the calls that carry the dimension.
fn shares(calls: HashMap<(Dimension, Symbol), u64>) -> BTreeMap<Dimension, BTreeMap<Symbol, f64>> {
    let mut by_dimension: BTreeMap<Dimension, BTreeMap<Symbol, f64>> = BTreeMap::new();
    for ((dimension, value), count) in calls {
        by_dimension
            .entry(dimension)
            .or_default()
            .insert(value, count as f64);
    }
    for values in by_dimension.values_mut() {
        let total: f64 = values.values().sum();
        values.values_mut().for_each(|count| *count /= total);
    }
    by_dimension
}

/// Share of the term occurrences in `recent` whose term never occurs in `vocabulary`, and
/// those terms with their counts.
fn new_term_share(
    recent: &HashMap<Symbol, u64>,
    vocabulary: &HashMap<Symbol, u64>,
) -> (f64, Vec<(Symbol, u64)>) {
    let total: u64 = recent.values().sum();
    let unseen: Vec<(Symbol, u64)> = recent
        .iter()
        .filter(|(term, _)| !vocabulary.contains_key(term))
        .map(|(term, count)| (*term, *count))
        .collect();
    let share = unseen.iter().map(|(_, c)| c).sum::<u64>() as f64 / total.max(1) as f64;
    (share, unseen)
}

pub(super) fn step(e: &Evidence, metric: MetricId, explained: bool) -> StepOutcome {
    if let Some(lines) = drifted_part_of_the_feature(e, metric) {
        let verdict = if explained {
            Verdict::Suspect
        } else {
            Verdict::Likely
        };
        return (verdict, lines);
    }
    let mut new_segments = Vec::new();
    let mut largest_shift: Option<(Dimension, Symbol, f64)> = None;
    // The input side of a call: what it carries in its attributes, and which feature sent it.
    let input_side = |d: &Dimension| matches!(d, Dimension::Attribute(_) | Dimension::Feature);
    let before = shares(
        e.minutes
            .segment_calls(Span::ending_by(e.baseline.from, e.baseline.to)),
    );
    let after = shares(e.minutes.segment_calls(Span::through(e.onset, e.end)));
    let empty = BTreeMap::new();
    for (dimension, values) in after.iter().filter(|(d, _)| input_side(d)) {
        let before = before.get(dimension).unwrap_or(&empty);
        for (value, share) in values {
            let (value, share) = (*value, *share);
            let was = before.get(&value).copied().unwrap_or(0.0);
            if share >= 0.10 && was < 0.02 {
                new_segments.push((*dimension, value, share, was));
            }
            if largest_shift.is_none_or(|(_, _, s)| (share - was).abs() > s.abs()) {
                largest_shift = Some((*dimension, value, share - was));
            }
        }
    }

    // The baseline's own rate of unseen terms is the yardstick: its last quarter against the rest.
    let counts = e.minutes;
    let split = e.baseline.from + (e.baseline.to - e.baseline.from) * 3 / 4;
    let early = counts.terms(Span::ending_by(e.baseline.from, split));
    let late = counts.terms(Span::ending_by(split, e.baseline.to));
    let (expected, _) = new_term_share(&late, &early);
    let mut vocabulary = early;
    for (term, count) in late {
        *vocabulary.entry(term).or_default() += count;
    }
    let (observed, unseen) =
        new_term_share(&counts.terms(Span::through(e.onset, e.end)), &vocabulary);
    let mut top_terms = unseen;
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
    // The embeddings test counts only with the per-call drift metric alarming too: the test runs
    // every few minutes, and its chance findings must not name a cause on their own.
    let drift_line = e.input_drift.map(describe);
    let embeddings_moved = e.input_drift.is_some_and(InputDrift::drifted)
        && e.episode.metrics.contains(&MetricId::InputDrift);
    let vocabulary_line = match &drift_line {
        Some(drift) => format!("{vocabulary_line}; {drift}"),
        None => vocabulary_line,
    };

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
        return if vocabulary_moved || embeddings_moved {
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
    let in_segment = e.minutes.rate(
        metric,
        Some((dimension, value)),
        Span::through(e.onset, e.end),
    );
    let all = e.minutes.rate(metric, None, Span::through(e.onset, e.end));
    let elsewhere = Proportion {
        bad: all.bad - in_segment.bad,
        n: all.n - in_segment.n,
    };
    let verdict = if explained {
        Verdict::Suspect
    } else if concentrated(metric, in_segment, elsewhere) || vocabulary_moved || embeddings_moved {
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

/// A part of the lead feature's traffic new since the onset, on which the failure concentrates:
/// inputs unlike the baseline's, or an attribute value (a new tenant) the baseline hardly had.
/// A tenth of one feature's traffic is a sliver of the service's, lost in the service-wide mix.
fn drifted_part_of_the_feature(e: &Evidence, metric: MetricId) -> Option<Vec<String>> {
    let feature = e.episode.primary_slice().feature()?;
    let of_feature = |from, to| {
        slice(e.observations, from, to)
            .filter(move |o| o.dimension(Dimension::Feature) == Some(feature))
    };
    let name = e.interner.name(feature);
    // Inputs unlike the baseline's: a tenth by construction, more once the inputs move.
    let novel_share = |from, to| {
        let mut share = Proportion::default();
        of_feature(from, to)
            .filter_map(|o| o.novel_input)
            .for_each(|novel| share.add(novel));
        share
    };
    let (before, after) = (
        novel_share(e.baseline.from, e.baseline.to),
        novel_share(e.onset, e.end),
    );
    let split = |part: &dyn Fn(&crate::engine::observation::Observation) -> bool| {
        let (mut inside, mut outside) = (Proportion::default(), Proportion::default());
        for o in of_feature(e.onset, e.end) {
            if let Some(bad) = metric.is_bad(o) {
                if part(o) {
                    inside.add(bad)
                } else {
                    outside.add(bad)
                }
            }
        }
        (inside, outside)
    };
    let moved = rate_delta(after, before).is_some_and(|d| d.delta >= 0.05 && d.z >= 3.0);
    if moved {
        let (novel, familiar) = split(&|o| o.novel_input == Some(true));
        if concentrated(metric, novel, familiar) {
            return Some(vec![
                format!(
                    "{} of {name}'s inputs since {} unlike the baseline's (base {})",
                    pct(after.rate()),
                    hm(e.onset),
                    pct(before.rate())
                ),
                format!(
                    "{} {} on them vs {} on the rest",
                    metric.label(),
                    pct(shown(metric, novel)),
                    pct(shown(metric, familiar))
                ),
            ]);
        }
    }
    // An attribute value that is new to the feature: at least a tenth of its calls since the
    // onset, under 2% of its baseline.
    let values = |from, to| {
        let mut counts: HashMap<(Symbol, Symbol), u64> = HashMap::default();
        let mut calls = 0u64;
        for o in of_feature(from, to) {
            calls += 1;
            for pair in &o.attributes {
                *counts.entry(*pair).or_default() += 1;
            }
        }
        (counts, calls.max(1) as f64)
    };
    let (base_counts, base_calls) = values(e.baseline.from, e.baseline.to);
    let (recent_counts, recent_calls) = values(e.onset, e.end);
    let mut fresh: Vec<((Symbol, Symbol), f64)> = recent_counts
        .iter()
        .map(|(pair, count)| (*pair, *count as f64 / recent_calls))
        .filter(|(pair, share)| {
            *share >= 0.10
                && base_counts
                    .get(pair)
                    .map_or(0.0, |c| *c as f64 / base_calls)
                    < 0.02
        })
        .collect();
    fresh.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fresh.into_iter().find_map(|((key, value), share)| {
        let (inside, outside) = split(&|o| o.attributes.contains(&(key, value)));
        concentrated(metric, inside, outside).then(|| {
            vec![
                format!(
                    "new {}={} on {name}: {:.0}% of its calls since {}",
                    e.interner.name(key),
                    e.interner.name(value),
                    share * 100.0,
                    hm(e.onset)
                ),
                format!(
                    "{} {} there vs {} on the rest of {name}",
                    metric.label(),
                    pct(shown(metric, inside)),
                    pct(shown(metric, outside))
                ),
            ]
        })
    })
}

/// "inputs 14:15–14:40: MMD² 0.052 > 0.011 (p 0.005, drifted), vocabulary JS 0.21; vanished:
/// refund". Drifted means significant in two tests in a row.
pub fn describe(drift: &InputDrift) -> String {
    let mut parts = Vec::new();
    if let Some(test) = drift.mmd {
        let relation = if test.mmd2 > test.threshold {
            ">"
        } else {
            "≤"
        };
        let verdict = if drift.drifted() { ", drifted" } else { "" };
        parts.push(format!(
            "MMD² {:.3} {relation} {:.3} (p {:.3}{verdict})",
            test.mmd2, test.threshold, test.p_value
        ));
    }
    if let Some(vocabulary) = &drift.vocabulary {
        let terms = |list: &[(String, f64, f64)]| {
            list.iter()
                .map(|(term, _, _)| term.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!("vocabulary JS {:.2}", vocabulary.divergence);
        // The new terms are named with the unseen-term share; the vanished ones only here.
        if drift.vocabulary_shift().is_none() {
            text.push_str(" (stable)");
        } else if !vocabulary.vanished_terms.is_empty() {
            text.push_str(&format!(
                "; vanished: {}",
                terms(&vocabulary.vanished_terms)
            ));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        return "inputs: too few sampled to test".into();
    }
    format!(
        "inputs {}–{}: {}",
        hm(drift.since),
        hm(drift.until),
        parts.join(", ")
    )
}
