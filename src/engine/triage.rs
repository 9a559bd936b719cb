//! The triage tree v1: Infrastructure, Model, Prompt, Data, in that order, each with a verdict
//! and the evidence behind it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::changes::ChangeRecord;
use super::metrics::{Family, MetricId};
use super::observation::{Dimension, Interner, Observation, Symbol};
use super::stats::{Proportion, percentile, rate_delta};
use super::{BaselineWindow, Episode, ok_latencies, proportion, slice};
use crate::model::{CallStatus, ChangeKind, ChangeOrigin, MitigationKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Infrastructure,
    Model,
    Prompt,
    Data,
}

impl Category {
    pub const ORDER: [Category; 4] = [Self::Infrastructure, Self::Model, Self::Prompt, Self::Data];

    /// The mitigation that stops the bleeding for this category before the root cause is fixed.
    pub fn first_mitigation(self) -> MitigationKind {
        match self {
            Self::Prompt => MitigationKind::PromptRollback,
            Self::Model => MitigationKind::ModelPin,
            Self::Data | Self::Infrastructure => MitigationKind::KillSwitch,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Infrastructure => "infrastructure",
            Self::Model => "model",
            Self::Prompt => "prompt",
            Self::Data => "data",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Infrastructure => "Infrastructure",
            Self::Model => "Model",
            Self::Prompt => "Prompt",
            Self::Data => "Data",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    RuledOut,
    Suspect,
    Likely,
    InsufficientData,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RuledOut => "ruled out",
            Self::Suspect => "suspect",
            Self::Likely => "likely",
            Self::InsufficientData => "insufficient data",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub category: Category,
    pub verdict: Verdict,
    pub evidence: Vec<String>,
    /// When the step last reached its current verdict.
    pub decided_at: DateTime<Utc>,
}

/// The prompt change the Prompt step looked at, for the word-level diff.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptChange {
    pub from: Option<String>,
    pub to: Option<String>,
    pub text_from: Option<String>,
    pub text_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Triage {
    pub onset: DateTime<Utc>,
    pub primary: MetricId,
    pub steps: Vec<Step>,
    pub prompt_change: Option<PromptChange>,
}

impl Triage {
    /// The first step, in the tree's order, whose verdict is Likely.
    pub fn conclusion(&self) -> Option<Category> {
        self.steps
            .iter()
            .find(|s| s.verdict == Verdict::Likely)
            .map(|s| s.category)
    }

    pub fn step(&self, category: Category) -> &Step {
        self.steps
            .iter()
            .find(|s| s.category == category)
            .expect("the triage has every step")
    }
}

pub struct Evidence<'a> {
    pub observations: &'a VecDeque<Observation>,
    pub interner: &'a Interner,
    pub changes: &'a [ChangeRecord],
    pub episode: &'a Episode,
    pub baseline: BaselineWindow,
    pub onset: DateTime<Utc>,
    /// Evidence is taken from the onset to here.
    pub end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub prompt_window: Duration,
    pub previous: Option<&'a Triage>,
}

/// Least calls since the onset before a step is decided.
const MIN_CALLS_SINCE_ONSET: usize = 30;

pub fn assess(evidence: &Evidence) -> Triage {
    let primary = evidence.episode.primary();
    let since_onset = slice(evidence.observations, evidence.onset, evidence.end).count();
    let prompt = prompt_step(evidence, primary);
    let mut verdicts = vec![
        infrastructure_step(evidence),
        model_step(evidence, primary),
        prompt.0,
    ];
    let explained = verdicts[1..]
        .iter()
        .any(|(verdict, _)| *verdict == Verdict::Likely);
    verdicts.push(data_step(evidence, primary, explained));
    let steps = Category::ORDER
        .iter()
        .zip(verdicts)
        .map(|(category, (verdict, lines))| {
            let (verdict, lines) = if since_onset < MIN_CALLS_SINCE_ONSET {
                (
                    Verdict::InsufficientData,
                    vec![format!(
                        "{since_onset} calls since onset {}; need {MIN_CALLS_SINCE_ONSET}",
                        hm(evidence.onset)
                    )],
                )
            } else {
                (verdict, lines)
            };
            let decided_at = evidence
                .previous
                .map(|p| p.step(*category))
                .filter(|p| p.verdict == verdict)
                .map_or(evidence.now, |p| p.decided_at);
            Step {
                category: *category,
                verdict,
                evidence: lines,
                decided_at,
            }
        })
        .collect();
    Triage {
        onset: evidence.onset,
        primary,
        steps,
        prompt_change: prompt.1,
    }
}

type StepOutcome = (Verdict, Vec<String>);

fn hm(ts: DateTime<Utc>) -> String {
    ts.format("%H:%M").to_string()
}

fn pct(rate: Option<f64>) -> String {
    rate.map_or("—".into(), |r| format!("{:.1}%", r * 100.0))
}

fn duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    if minutes >= 60 {
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    } else {
        format!("{minutes}m")
    }
}

/// "12m before onset" or "3m after onset".
fn relative_to_onset(ts: DateTime<Utc>, onset: DateTime<Utc>) -> String {
    if ts <= onset {
        format!("{} before onset", duration(onset - ts))
    } else {
        format!("{} after onset", duration(ts - onset))
    }
}

/// Displayed rate of a metric (compliance for Schema) over some observations.
fn shown(metric: MetricId, p: Proportion) -> Option<f64> {
    p.rate().map(|r| {
        if metric.shows_good_share() {
            1.0 - r
        } else {
            r
        }
    })
}

fn infrastructure_step(e: &Evidence) -> StepOutcome {
    let base: Vec<&Observation> = slice(e.observations, e.baseline.from, e.baseline.to).collect();
    let recent: Vec<&Observation> = slice(e.observations, e.onset, e.end).collect();
    let failures = |obs: &[&Observation]| {
        let mut p = Proportion::default();
        obs.iter().for_each(|o| p.add(o.status != CallStatus::Ok));
        p
    };
    let base_fail = failures(&base);
    let base_p95 = percentile(&mut ok_latencies(base.iter().copied()), 0.95).unwrap_or(0.0);
    let recent_p95 = percentile(&mut ok_latencies(recent.iter().copied()), 0.95).unwrap_or(0.0);
    let summary = format!(
        "failed {} (base {}) · p95 {:.1}s (base {:.1}s)",
        pct(failures(&recent).rate()),
        pct(base_fail.rate()),
        recent_p95 / 1000.0,
        base_p95 / 1000.0
    );
    let transport: Vec<MetricId> = e
        .episode
        .metrics
        .iter()
        .copied()
        .filter(|m| m.family() == Family::Transport)
        .collect();
    if transport.is_empty() {
        return (
            Verdict::RuledOut,
            vec![summary, "transport metrics at baseline since onset".into()],
        );
    }
    let mut minutes = 0;
    let mut affected = 0;
    let mut start = e.onset;
    while start + Duration::minutes(1) <= e.end {
        let minute: Vec<&Observation> =
            slice(e.observations, start, start + Duration::minutes(1)).collect();
        start += Duration::minutes(1);
        if minute.is_empty() {
            continue;
        }
        minutes += 1;
        let fail = failures(&minute).rate().unwrap_or(0.0);
        let p95 = percentile(&mut ok_latencies(minute.iter().copied()), 0.95).unwrap_or(0.0);
        if fail >= base_fail.rate().unwrap_or(0.0) + 0.05 || p95 >= 1.5 * base_p95 {
            affected += 1;
        }
    }
    if minutes < 3 {
        return (
            Verdict::InsufficientData,
            vec![summary, format!("{minutes} full minutes since onset")],
        );
    }
    let consistent = affected * 10 >= minutes * 6;
    let quality: Vec<&str> = e
        .episode
        .metrics
        .iter()
        .filter(|m| m.family() == Family::Quality)
        .map(|m| m.label())
        .collect();
    let pattern = format!(
        "{affected} of {minutes} min since {} affected: {}",
        hm(e.onset),
        if consistent {
            "consistent"
        } else {
            "intermittent"
        }
    );
    let quality_line = if quality.is_empty() {
        "quality of successful calls unchanged".to_string()
    } else {
        format!("quality moved too: {}", quality.join(", "))
    };
    let verdict = if consistent && quality.is_empty() {
        Verdict::Likely
    } else {
        Verdict::Suspect
    };
    (verdict, vec![summary, format!("{pattern}; {quality_line}")])
}

/// Changes of a kind in the suspect window, not made by flightdeck itself: from `before` the
/// onset up to the first alarm, since the onset is an estimate and a change after it but before
/// the alarm can still be the cause.
fn candidates<'a>(
    e: &'a Evidence,
    kind: ChangeKind,
    before: Duration,
) -> impl Iterator<Item = &'a ChangeRecord> {
    let from = e.onset - before;
    let to = (e.onset + Duration::minutes(10)).max(e.episode.first_alarm);
    e.changes.iter().filter(move |r| {
        r.change.kind == kind && !r.is_mitigation() && r.change.ts >= from && r.change.ts <= to
    })
}

/// The primary metric on calls of one segment value in a window.
fn segment_rate(
    e: &Evidence,
    metric: MetricId,
    dimension: Dimension,
    value: Option<Symbol>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Proportion {
    proportion(
        metric,
        slice(e.observations, from, to)
            .filter(|o| value.is_some() && o.dimension(dimension) == value),
    )
}

fn symbol(e: &Evidence, name: Option<&str>) -> Option<Symbol> {
    e.interner.lookup(name?)
}

/// Whether the segment's bad share exceeds the reference's by at least the metric's warn limit,
/// and significantly.
fn concentrated(metric: MetricId, segment: Proportion, reference: Proportion) -> bool {
    rate_delta(segment, reference).is_some_and(|d| d.delta >= metric.limits().warn && d.z >= 3.0)
}

fn model_step(e: &Evidence, metric: MetricId) -> StepOutcome {
    let Some(change) = candidates(e, ChangeKind::ModelChange, Duration::hours(2)).last() else {
        let served = dominant(e, Dimension::ModelServed, e.onset, e.end);
        return (
            Verdict::RuledOut,
            vec![format!(
                "no model change in the 2h before onset; served {} throughout",
                served.unwrap_or("—")
            )],
        );
    };
    let c = &change.change;
    let new = symbol(e, c.to.as_deref());
    let old = symbol(e, c.from.as_deref());
    let on_new = segment_rate(e, metric, Dimension::ModelServed, new, c.ts, e.end);
    let on_old = segment_rate(
        e,
        metric,
        Dimension::ModelServed,
        old,
        e.baseline.from,
        c.ts,
    );
    let gap = (e.onset - c.ts).abs();
    let when = format!(
        "{} {} at {} ({}){}",
        c.target,
        c.transition(),
        hm(c.ts),
        relative_to_onset(c.ts, e.onset),
        if change.origin == ChangeOrigin::InferredFromCalls {
            "; floating alias"
        } else {
            ""
        }
    );
    let split = format!(
        "{} {} on {} vs {} on {}",
        metric.label(),
        pct(shown(metric, on_new)),
        c.to.as_deref().unwrap_or("new"),
        pct(shown(metric, on_old)),
        c.from.as_deref().unwrap_or("old")
    );
    let verdict = if concentrated(metric, on_new, on_old) {
        if gap <= Duration::minutes(15) {
            Verdict::Likely
        } else {
            Verdict::Suspect
        }
    } else {
        Verdict::RuledOut
    };
    (verdict, vec![when, split])
}

fn prompt_step(e: &Evidence, metric: MetricId) -> (StepOutcome, Option<PromptChange>) {
    let Some(change) = candidates(e, ChangeKind::PromptDeploy, e.prompt_window).last() else {
        let live = dominant(e, Dimension::PromptVersion, e.onset, e.end);
        return (
            (
                Verdict::RuledOut,
                vec![format!(
                    "no prompt deploy in the {} before onset; {} live throughout",
                    duration(e.prompt_window),
                    live.unwrap_or("one version")
                )],
            ),
            None,
        );
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
        "{to_name} deployed {}{}, {} · diff: w",
        hm(c.ts),
        c.author
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default(),
        relative_to_onset(c.ts, e.onset)
    );
    let healthy_run = segment_rate(e, metric, Dimension::PromptVersion, new, c.ts, e.onset);
    let baseline = proportion(
        metric,
        slice(e.observations, e.baseline.from, e.baseline.to),
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
    let on_new = segment_rate(e, metric, Dimension::PromptVersion, new, c.ts, e.end);
    let on_old = segment_rate(
        e,
        metric,
        Dimension::PromptVersion,
        old,
        e.baseline.from,
        c.ts,
    );
    let split = format!(
        "{} {} on {to_name} vs {} on {from_name}",
        metric.label(),
        pct(shown(metric, on_new)),
        pct(shown(metric, on_old))
    );
    let verdict = if concentrated(metric, on_new, on_old) {
        Verdict::Likely
    } else {
        Verdict::Suspect
    };
    ((verdict, vec![split, deployed]), prompt_change)
}

/// The most common value of a dimension in a window.
fn dominant<'a>(
    e: &'a Evidence,
    dimension: Dimension,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<&'a str> {
    let mut counts: HashMap<Symbol, usize> = HashMap::new();
    for o in slice(e.observations, from, to) {
        if let Some(value) = o.dimension(dimension) {
            *counts.entry(value).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(value, count)| (*count, std::cmp::Reverse(*value)))
        .map(|(value, _)| e.interner.name(value))
}

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

fn data_step(e: &Evidence, metric: MetricId, explained: bool) -> StepOutcome {
    let base: Vec<&Observation> = slice(e.observations, e.baseline.from, e.baseline.to).collect();
    let recent: Vec<&Observation> = slice(e.observations, e.onset, e.end).collect();

    let mut new_segments = Vec::new();
    let mut largest_shift: Option<(Dimension, Symbol, f64)> = None;
    for dimension in [Dimension::Source, Dimension::Intent] {
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

    // Sources come first: where traffic comes from explains a shift better than what it asks.
    let Some((dimension, value, share, was)) = new_segments.first().copied() else {
        let shift = largest_shift.map_or("none".into(), |(d, v, s)| {
            format!("{}={} {:+.0} pts", d.label(), e.interner.name(v), s * 100.0)
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
                dimension.label(),
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
