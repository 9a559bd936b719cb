//! Model: a served-model change shortly before the onset, with the change concentrated in the
//! new model's calls; or a model update that kept its name, inferred from the outputs, with the
//! change arriving at its time on the features that share the requested model.

use std::collections::BTreeMap;

use chrono::Duration;

use super::{
    Evidence, StepOutcome, Verdict, after_onset_line, candidates, concentrated, dominant, hm,
    relative_to_onset, segment_rate, split_line, symbol, too_late, worse_on_new_side,
};
use crate::engine::changes::ChangeRecord;
use crate::engine::metrics::MetricId;
use crate::engine::minutes::Span;
use crate::engine::observation::{Dimension, Symbol};
use crate::engine::stats::{Proportion, rate_delta};
use crate::engine::style_shift::release_margin;
use crate::engine::{InputDrift, slice};
use crate::model::{ChangeKind, ChangeOrigin};

/// How long before the onset a model change is still a suspect.
pub(super) fn model_window() -> Duration {
    Duration::hours(2)
}

/// A model change this close to the onset, concentrated in the new model, is likely the cause.
fn likely_gap() -> Duration {
    Duration::minutes(15)
}

/// A change inferred from outputs is dated by the onsets of the shifts, good to a few minutes:
/// one this much later than the onset tolerance allows is still a suspect.
fn inferred_slack() -> Duration {
    Duration::minutes(5)
}

pub(super) fn step(e: &Evidence, metric: MetricId) -> StepOutcome {
    let inferred_late = e.changes.iter().find(|r| {
        r.origin == ChangeOrigin::InferredFromBehaviour
            && r.change.kind == ChangeKind::ModelChange
            && r.change.ts > e.onset + e.onset_tolerance
            && r.change.ts <= e.onset + e.onset_tolerance + inferred_slack()
    });
    let suspect = candidates(e, ChangeKind::ModelChange, model_window())
        .last()
        .or(inferred_late);
    if let Some(inferred) = suspect.filter(|r| r.origin == ChangeOrigin::InferredFromBehaviour) {
        return by_time(e, metric, inferred);
    }
    let Some(change) = suspect else {
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
    let verdict = if worse_on_new_side(metric, on_new, on_old) {
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

/// A model change inferred from outputs names no new model, so it is judged by time: the
/// metric on the calls of the requested model after the change against those before, on each
/// feature that shares it. Likely when it rose at once on several of them (or on the only one)
/// with no prompt deploy on them and no input drift.
fn by_time(e: &Evidence, metric: MetricId, record: &ChangeRecord) -> StepOutcome {
    let c = &record.change;
    let inferred = format!(
        "{}: inferred from outputs, {}",
        c.note.as_deref().unwrap_or(&c.target),
        relative_to_onset(c.ts, e.onset)
    );
    let Some(model) = symbol(e, Some(&c.target)) else {
        return (
            Verdict::RuledOut,
            vec![inferred, format!("no calls of {} to judge", c.target)],
        );
    };
    let mut before = Proportion::default();
    let mut after = Proportion::default();
    let mut by_feature: BTreeMap<Symbol, (Proportion, Proportion)> = BTreeMap::new();
    for o in slice(e.observations, e.baseline.from, e.end) {
        if o.dimension(Dimension::ModelRequested) != Some(model) {
            continue;
        }
        let Some(bad) = metric.is_bad(o) else {
            continue;
        };
        let weight = u64::from(o.weight);
        let feature = by_feature
            .entry(o.dimension(Dimension::Feature).unwrap_or(model))
            .or_default();
        for p in if o.ts < c.ts {
            [&mut before, &mut feature.0]
        } else {
            [&mut after, &mut feature.1]
        } {
            p.n += weight;
            p.bad += weight * u64::from(bad);
        }
    }
    let since = format!("{} since {}", c.target, hm(c.ts));
    let split = split_line(
        metric,
        (&since, after),
        (&format!("{} before", c.target), before),
    );
    // Features with calls on both sides share the model across the change.
    let sharing: Vec<(&str, f64)> = by_feature
        .iter()
        .filter(|(_, (b, a))| b.n > 0 && a.n > 0)
        .filter_map(|(feature, (b, a))| {
            let moved = rate_delta(*a, *b)?.delta;
            Some((e.interner.name(*feature), moved))
        })
        .collect();
    let rose: Vec<(&str, f64)> = sharing
        .iter()
        .copied()
        .filter(|(_, moved)| *moved >= metric.limits().warn)
        .collect();
    let at_once = rose.len() >= 2 || (sharing.len() == 1 && rose.len() == 1);
    let deploys: Vec<&ChangeRecord> = e
        .changes
        .iter()
        .filter(|r| {
            r.change.kind == ChangeKind::PromptDeploy
                && !r.is_mitigation()
                && r.change.ts >= c.ts - release_margin()
                && r.change.ts <= e.onset + e.onset_tolerance
                && sharing.iter().any(|(feature, _)| {
                    r.change.feature.as_deref() == Some(*feature) || r.change.target == *feature
                })
        })
        .collect();
    let drifted = e.input_drift.is_some_and(InputDrift::drifted);
    let points = |moved: f64| {
        // A metric shown as a good share (schema compliance) falls when its bad share rises.
        let sign = if metric.shows_good_share() { -1.0 } else { 1.0 };
        format!("{:+.0} pts", sign * moved * 100.0)
    };
    let mut context = format!(
        "rose on {} of {} features sharing {}{}",
        rose.len(),
        sharing.len(),
        c.target,
        if sharing.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                sharing
                    .iter()
                    .map(|(feature, moved)| format!("{feature} {}", points(*moved)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    context.push_str(&match deploys.last() {
        Some(deploy) => format!(
            "; prompt {} deployed {} on it",
            deploy.change.to.as_deref().unwrap_or("a version"),
            hm(deploy.change.ts)
        ),
        None => "; no prompt deploy on them".into(),
    });
    context.push_str(if drifted {
        "; inputs drifted"
    } else {
        "; inputs not drifted"
    });
    let verdict = if !concentrated(metric, after, before) {
        Verdict::RuledOut
    } else if at_once && deploys.is_empty() && !drifted && (e.onset - c.ts).abs() <= likely_gap() {
        Verdict::Likely
    } else {
        Verdict::Suspect
    };
    (verdict, vec![inferred, split, context])
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use crate::engine::signals::schema::SchemaRegistry;
    use crate::engine::style_shift::traffic::{Conditions, calls};
    use crate::engine::triage::{Category, Triage, Verdict};
    use crate::engine::{Engine, EngineConfig};
    use crate::model::Call;

    const FEATURES: [&str; 2] = ["support-answer", "search-summary"];
    /// 14:12, when the provider's update goes live.
    const UPDATE_MINUTE: i64 = 132;
    /// From 13:30, enough for a baseline and the features' reference styles, to 14:32.
    const HISTORY: (i64, i64) = (90, 152);

    /// The engine over the calls, evaluated every minute: the triage at the last evaluation.
    fn triage(calls: &[Call]) -> Triage {
        let mut engine = Engine::new(EngineConfig::default(), SchemaRegistry::default());
        let mut next = calls[0].ts + Duration::minutes(1);
        let mut last = None;
        for call in calls {
            while call.ts >= next {
                last = engine.evaluate(next).triage.or(last);
                next += Duration::minutes(1);
            }
            engine.ingest_call(call);
        }
        last.expect("an incident was triaged")
    }

    /// The update makes answers longer and, on the features `worse_on`, hallucinated at
    /// `rate` instead of 3%.
    fn update(
        served: Option<&'static str>,
        worse_on: &'static [usize],
        rate: f64,
    ) -> impl Fn(i64, usize) -> Conditions {
        move |minute, feature| {
            let updated = minute >= UPDATE_MINUTE;
            Conditions {
                calls_per_minute: 30.0,
                updated,
                served,
                hallucination: if updated && worse_on.contains(&feature) {
                    rate
                } else {
                    0.03
                },
                ..Conditions::default()
            }
        }
    }

    #[test]
    fn an_update_inferred_from_outputs_is_likely_when_every_feature_got_worse_at_its_time() {
        for (seed, served) in [(1, None), (2, Some("gpt-4o-2024-08-06"))] {
            let calls = calls(seed, &FEATURES, HISTORY, update(served, &[0, 1], 0.08));
            let triage = triage(&calls);
            let model = triage.step(Category::Model);
            assert_eq!(model.verdict, Verdict::Likely, "{served:?}: {model:#?}");
            assert_eq!(triage.conclusion(), Some(Category::Model), "{triage:#?}");
            let [inferred, split, context] = model.evidence.as_slice() else {
                panic!("{model:#?}");
            };
            assert!(
                inferred.starts_with("gpt-4o outputs 1.")
                    && inferred.contains("on 2 of 2 features")
                    && inferred.contains(": inferred from outputs, "),
                "{inferred}"
            );
            assert!(
                split.starts_with("Hallucination ") && split.contains(" on gpt-4o since 14:1"),
                "{split}"
            );
            assert!(
                context.starts_with("rose on 2 of 2 features sharing gpt-4o: ")
                    && context.ends_with("; no prompt deploy on them; inputs not drifted"),
                "{context}"
            );
        }
    }

    #[test]
    fn an_update_inferred_from_outputs_is_only_suspect_when_one_feature_of_two_got_worse() {
        let calls = calls(3, &FEATURES, HISTORY, update(None, &[0], 0.15));
        let model = triage(&calls).step(Category::Model).clone();
        assert_eq!(model.verdict, Verdict::Suspect, "{model:#?}");
        assert!(
            model.evidence[2].starts_with("rose on 1 of 2 features"),
            "{model:#?}"
        );
    }
}
