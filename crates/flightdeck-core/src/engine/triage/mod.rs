//! The triage tree: Infrastructure, Model, Prompt, Data, in that order, each with a verdict and
//! the evidence behind it, then a ranked category with a confidence and the first mitigation.

mod data;
mod headline;
mod infrastructure;
mod model;
mod pattern;
mod prompt;
mod ranking;

use std::collections::VecDeque;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub use self::headline::Headline;
pub use self::pattern::Pattern;
pub use self::ranking::{Ranked, Recommendation};
use super::InputDrift;
use super::changes::ChangeRecord;
use super::metrics::MetricId;
use super::minutes::{MinuteCounts, Span};
use super::observation::{Dimension, Interner, Observation, Symbol};
use super::stats::{Proportion, rate_delta};
use super::{BaselineWindow, Episode, slice};
use crate::model::{ChangeKind, InfraReading, MitigationKind};

pub use crate::model::Category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// The feature the primary metric alarms on by itself, when the lead is one feature's.
    pub slice: Option<String>,
    pub steps: Vec<Step>,
    pub prompt_change: Option<PromptChange>,
    /// Every category, the most likely first, with confidences that sum to one.
    pub ranking: Vec<Ranked>,
    /// What the triage says in one line: a cause, unexplained, or not yet enough calls.
    pub headline: Headline,
    /// How the primary metric's failure spread over the minutes since the onset.
    pub pattern: Option<Pattern>,
    /// The first mitigation for the leading category once one is likely, or the kill switch
    /// when nothing explains the failure.
    pub recommendation: Option<Recommendation>,
    /// Where the excess of each alarming metric lies, one line per concentrated segment.
    pub blast_radius: Vec<String>,
}

impl Triage {
    /// The first step, in the tree's order, whose verdict is Likely.
    pub fn conclusion(&self) -> Option<Category> {
        self.steps
            .iter()
            .find(|s| s.verdict == Verdict::Likely)
            .map(|s| s.category)
    }

    /// The mitigation the triage points to: the likely cause's first one, or, when nothing
    /// explains the failure, the kill switch, which stops the bleeding whatever the cause.
    pub fn mitigation(&self) -> Option<MitigationKind> {
        match self.headline {
            Headline::Unexplained { .. } => Some(MitigationKind::KillSwitch),
            Headline::Cause(_) | Headline::InsufficientData { .. } => {
                self.conclusion().map(Category::first_mitigation)
            }
        }
    }

    /// The lines behind the headline: how much of the episode the failure affected, then why
    /// nothing explains it or what the steps still wait for.
    pub fn headline_evidence(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.pattern.iter().map(Pattern::line).collect();
        match &self.headline {
            Headline::Cause(_) => {}
            Headline::Unexplained { evidence, .. } => lines.extend(evidence.iter().cloned()),
            Headline::InsufficientData { waiting } => lines.extend(waiting.iter().cloned()),
        }
        lines
    }

    /// What would name the cause when nothing explains the failure; empty otherwise.
    pub fn would_decide(&self) -> &[String] {
        match &self.headline {
            Headline::Unexplained { would_decide, .. } => would_decide,
            Headline::Cause(_) | Headline::InsufficientData { .. } => &[],
        }
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
    pub minutes: &'a MinuteCounts,
    pub interner: &'a Interner,
    pub changes: &'a [ChangeRecord],
    pub episode: &'a Episode,
    pub baseline: BaselineWindow,
    pub onset: DateTime<Utc>,
    /// The engine's last scheduled test of the inputs against the baseline's.
    pub input_drift: Option<&'a InputDrift>,
    /// The infrastructure queries' latest answers (Prometheus), fresh ones only.
    pub infra: &'a [InfraReading],
    /// Evidence is taken from the onset to here.
    pub end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub prompt_window: Duration,
    /// A change this long after the onset can still be its cause.
    pub onset_tolerance: Duration,
    pub previous: Option<&'a Triage>,
}

/// Least calls since the onset before a step is decided.
const MIN_CALLS_SINCE_ONSET: usize = 30;

pub fn assess(evidence: &Evidence) -> Triage {
    let primary = evidence.episode.primary();
    let since_onset = slice(evidence.observations, evidence.onset, evidence.end).len();
    let pattern = pattern::pattern(evidence, primary);
    let prompt = prompt::step(evidence, primary);
    let mut verdicts = vec![
        infrastructure::step(evidence, primary, pattern.as_ref()),
        model::step(evidence, primary),
        prompt.0,
    ];
    let explained = verdicts[1..]
        .iter()
        .any(|(verdict, _)| *verdict == Verdict::Likely);
    verdicts.push(data::step(evidence, primary, explained));
    let steps: Vec<Step> = Category::ORDER
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
    let ranking = ranking::rank(&steps);
    let headline = headline::headline(evidence, &steps, ranking[0], primary);
    let recommendation = ranking::recommend(evidence, &steps, &headline);
    Triage {
        onset: evidence.onset,
        primary,
        slice: evidence
            .episode
            .primary_slice()
            .feature()
            .map(|feature| evidence.interner.name(feature).to_string()),
        steps,
        prompt_change: prompt.1,
        ranking,
        headline,
        pattern,
        recommendation,
        blast_radius: blast_radius(evidence),
    }
}

/// Most concentrated segments shown per alarming metric.
const SEGMENTS_PER_METRIC: usize = 2;

/// Each alarming rate metric split by every dimension, from the baseline's start to the end of
/// the evidence, so that a release shows as its new version against the old one.
fn blast_radius(e: &Evidence) -> Vec<String> {
    e.episode
        .metrics
        .iter()
        .filter(|m| m.shifts().is_some() && m.measure() == super::metrics::Measure::Rate)
        .filter_map(|metric| {
            let base = e.minutes.rate(
                *metric,
                None,
                Span::ending_by(e.baseline.from, e.baseline.to),
            );
            let breakdown = e.minutes.breakdown(
                *metric,
                Span::through(e.baseline.from, e.end),
                base.rate()?,
            )?;
            let lines: Vec<String> = breakdown
                .concentrated()
                .take(SEGMENTS_PER_METRIC)
                .map(|s| breakdown.describe(s, e.interner))
                .collect();
            Some(lines)
        })
        .flatten()
        .collect()
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

/// "Hallucination 22% ±3 on v8 vs 4% ±1 on v7": a metric on the new release's calls against the
/// old one's.
fn split_line(metric: MetricId, new: (&str, Proportion), old: (&str, Proportion)) -> String {
    let part = |(name, p): (&str, Proportion)| match shown(metric, p) {
        Some(rate) => {
            let half = super::stats::Z95 * (rate * (1.0 - rate) / p.n as f64).sqrt();
            format!("{:.0}% ±{:.0} on {name}", rate * 100.0, half * 100.0)
        }
        None => format!("— on {name}"),
    };
    format!("{} {} vs {}", metric.label(), part(new), part(old))
}

/// Changes of a kind in the suspect window, not made by flightdeck itself: from `before` the
/// onset to the onset tolerance after it, since the onset is an estimate. A later change cannot
/// be the cause.
fn candidates<'a>(
    e: &'a Evidence,
    kind: ChangeKind,
    before: Duration,
) -> impl Iterator<Item = &'a ChangeRecord> {
    let from = e.onset - before;
    let to = e.onset + e.onset_tolerance;
    e.changes.iter().filter(move |r| {
        r.change.kind == kind
            && !r.is_mitigation()
            && r.change.ts >= from
            && r.change.ts <= to
            && reaches_the_lead(e, r)
    })
}

/// Whether a change can touch the feature the lead alarm is on: a change made to another
/// feature cannot cause a regression confined to this one. A change that names no feature, or a
/// lead over the whole service, keeps every change in view.
fn reaches_the_lead(e: &Evidence, record: &ChangeRecord) -> bool {
    let Some(feature) = e.episode.primary_slice().feature() else {
        return true;
    };
    record
        .change
        .feature
        .as_deref()
        .is_none_or(|name| e.interner.lookup(name) == Some(feature))
}

/// The first change of a kind after the onset tolerance and before the end of the evidence,
/// named so the responder sees it was considered: "v9 deployed 14:25, 10m after onset".
fn too_late<'a>(e: &'a Evidence, kind: ChangeKind) -> Option<&'a ChangeRecord> {
    e.changes.iter().find(|r| {
        r.change.kind == kind
            && !r.is_mitigation()
            && r.change.ts > e.onset + e.onset_tolerance
            && r.change.ts <= e.end
            && reaches_the_lead(e, r)
    })
}

/// "prompt support-answer v8 → v9 at 14:25 is 10m after onset: not the cause".
fn after_onset_line(e: &Evidence, record: &ChangeRecord) -> String {
    format!(
        "{} {} {} at {} is {}: not the cause",
        record.change.kind,
        record.change.target,
        record.change.transition(),
        hm(record.change.ts),
        relative_to_onset(record.change.ts, e.onset)
    )
}

/// A metric on the calls of one segment value over a span.
fn segment_rate(
    e: &Evidence,
    metric: MetricId,
    dimension: Dimension,
    value: Option<Symbol>,
    span: Span,
) -> Proportion {
    match value {
        Some(value) => e.minutes.rate(metric, Some((dimension, value)), span),
        None => Proportion::default(),
    }
}

fn symbol(e: &Evidence, name: Option<&str>) -> Option<Symbol> {
    e.interner.lookup(name?)
}

/// Whether the segment's bad share exceeds the reference's by at least the metric's warn limit,
/// and significantly.
fn concentrated(metric: MetricId, segment: Proportion, reference: Proportion) -> bool {
    concentrated_among(metric, segment, reference, 1)
}

/// Whether the calls of a change's new side (a prompt version, a model) are significantly worse
/// than those of its old side over the same period, by at least half the warn limit: the
/// detectors already judged the rise material, and a side-by-side split of the same period needs
/// only to say where it lies (a canary's 2% → 5% is its version's, though under 3 points).
fn worse_on_new_side(metric: MetricId, new: Proportion, old: Proportion) -> bool {
    rate_delta(new, old).is_some_and(|d| d.delta >= metric.limits().warn / 2.0 && d.z >= 3.0)
}

/// [`concentrated`], for one of `comparisons` segments looked at together: the z needed grows
/// so that the chance of any of them passing stays that of one at 3σ (a Bonferroni bound,
/// from the normal tail's exp(−z²/2)), or nine untouched features would make one rise by chance
/// at every other evaluation.
fn concentrated_among(
    metric: MetricId,
    segment: Proportion,
    reference: Proportion,
    comparisons: usize,
) -> bool {
    let z_needed = (9.0 + 2.0 * (comparisons.max(1) as f64).ln()).sqrt();
    rate_delta(segment, reference)
        .is_some_and(|d| d.delta >= metric.limits().warn && d.z >= z_needed)
}

/// The most common value of a dimension over a span.
fn dominant<'a>(e: &'a Evidence, dimension: Dimension, span: Span) -> Option<&'a str> {
    e.minutes
        .segment_calls(span)
        .into_iter()
        .filter(|((d, _), _)| *d == dimension)
        .max_by_key(|((_, value), count)| (*count, std::cmp::Reverse(*value)))
        .map(|((_, value), _)| e.interner.name(value))
}

#[cfg(test)]
mod tests;
