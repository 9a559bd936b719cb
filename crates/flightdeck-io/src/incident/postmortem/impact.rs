//! The impact as a share of requests over a window: how intermittent it was, against what the
//! baseline would have given, from the primary metric's minute samples.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::quality::{MetricReport, badness, metric, overlapping};
use super::text;
use crate::engine::metrics::Family;
use crate::engine::metrics::{Measure, MetricId};
use crate::model::{Category, EntryKind, Incident, MinuteSample, TimelineEntry};

/// Where a window edge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    ImpactStart,
    /// The first minute of the run above baseline + warn limit that led to detection.
    FirstMinuteAboveWarn,
    Opened,
    Mitigated,
    Resolved,
    LastSample,
}

impl Edge {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ImpactStart => "the impact start",
            Self::FirstMinuteAboveWarn => "the first minute above baseline + warn limit",
            Self::Opened => "the opening",
            Self::Mitigated => "the mitigation",
            Self::Resolved => "the resolution",
            Self::LastSample => "the last recorded minute",
        }
    }
}

/// The span the impact is stated over, and where its edges came from: computed once, so the
/// impact, each metric's worst minute and its coverage read the same minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub start_from: Edge,
    pub end: DateTime<Utc>,
    pub end_from: Edge,
}

impl Window {
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start, self.end)
    }
}

/// The impact start if set, else the run above the warn limit of `metric` that led to detection,
/// else the opening; to the mitigation, else the resolution, else the end of the last sample.
pub fn window(
    incident: &Incident,
    samples: &[MinuteSample],
    metric: Option<&MetricReport>,
) -> Window {
    let (start, start_from) = window_start(incident, samples, metric);
    let last = samples.last().map(|s| s.minute + Duration::minutes(1));
    let (end, end_from) = match (incident.mitigated_at, incident.resolved_at, last) {
        (Some(at), _, _) => (at, Edge::Mitigated),
        (None, Some(at), _) => (at, Edge::Resolved),
        (None, None, Some(at)) => (at, Edge::LastSample),
        (None, None, None) => (incident.opened_at, Edge::Opened),
    };
    Window {
        start,
        start_from,
        end,
        end_from,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WorstMinute {
    pub minute: DateTime<Utc>,
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// The primary metric's key and label (`failed`, Failures: every failed call).
    pub metric: String,
    pub label: String,
    /// What is counted and what went wrong for it: "requests", "returned hallucinated responses".
    pub noun: String,
    pub what: String,
    /// Why this metric: the first detection, or the largest rise over baseline.
    pub chosen_because: String,
    pub start: DateTime<Utc>,
    pub start_from: Edge,
    pub end: DateTime<Utc>,
    pub end_from: Edge,
    /// Minutes summed (those overlapping the window).
    pub minutes: usize,
    /// The start of the first minute summed and the end of the last: the edges the sentence
    /// names, since whole minutes are summed.
    pub summed_from: DateTime<Utc>,
    pub summed_until: DateTime<Utc>,
    /// Failing calls and the calls the metric judged in those minutes.
    pub bad: u64,
    pub of: u64,
    /// `bad / of`.
    pub rate: f64,
    /// The minute with the highest bad share.
    pub worst: Option<WorstMinute>,
    /// The baseline's bad share, and what it would have given over `of` calls.
    pub baseline_rate: Option<f64>,
    pub expected_at_baseline: Option<f64>,
    /// `bad - expected_at_baseline`: failures the incident added.
    pub excess: Option<f64>,
    /// The largest sampling stride in the window: 1 when every call was counted.
    pub max_stride: u64,
    pub sentence: String,
    pub excess_sentence: Option<String>,
    pub sampling_note: Option<String>,
}

/// How a metric's failure reads in a sentence: (what is counted, what went wrong).
fn phrase(id: MetricId) -> (&'static str, &'static str) {
    match id {
        MetricId::Hallucination => ("requests", "returned hallucinated responses"),
        MetricId::Grounded => ("requests", "returned answers not grounded in their sources"),
        MetricId::Refusal => ("requests", "were refused"),
        MetricId::FalseRefusal => (
            "requests",
            "were refused although they should have been answered",
        ),
        MetricId::Schema => ("requests", "broke the output schema"),
        MetricId::Similarity => ("requests", "got answers unlike the baseline's"),
        MetricId::Feedback => ("rated answers", "got a thumbs-down"),
        MetricId::InputDrift => ("requests", "asked something unlike the earlier inputs"),
        MetricId::Errors => ("requests", "failed with an error"),
        MetricId::Timeouts => ("requests", "timed out"),
        MetricId::RateLimits => ("requests", "were rate-limited"),
        _ => ("requests", "were affected"),
    }
}

/// How often it hit, in words that say it was not every request.
fn how_often(rate: f64, noun: &str) -> String {
    let one = noun.trim_end_matches('s');
    if rate >= 0.95 {
        format!("nearly every {one}")
    } else if rate > 0.5 {
        format!("most {noun}, not every {one}")
    } else if rate > 0.0 {
        format!("1 in {} {noun}, not every {one}", (1.0 / rate).round())
    } else {
        format!("no {noun}")
    }
}

/// What the impact is stated in: one rate metric, or every failed call (errors, timeouts and
/// rate limits) when the incident is about the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    /// The metric keys whose bad calls are summed; a call fails one way at most.
    pub keys: Vec<&'static str>,
    pub metric: String,
    pub label: String,
    pub noun: &'static str,
    pub verb: &'static str,
    pub chosen_because: String,
}

impl Basis {
    fn one(id: MetricId, chosen_because: &str) -> Self {
        let (noun, verb) = phrase(id);
        Self {
            keys: vec![id.key()],
            metric: id.key().to_string(),
            label: id.label().to_string(),
            noun,
            verb,
            chosen_because: chosen_because.to_string(),
        }
    }

    fn failures(keys: Vec<&'static str>, chosen_because: &str) -> Self {
        Self {
            keys,
            metric: "failed".to_string(),
            label: "Failures".to_string(),
            noun: "requests",
            verb: "failed (an error, a timeout or a rate limit)",
            chosen_because: chosen_because.to_string(),
        }
    }

    /// The report of its first metric: the one whose run above the warn limit places a window
    /// that has no impact start.
    pub fn lead<'a>(&self, reports: &'a [MetricReport]) -> Option<&'a MetricReport> {
        reports.iter().find(|r| r.key == self.keys[0])
    }

    /// The bad share the baselines of its metrics add up to.
    fn baseline_rate(&self, reports: &[MetricReport]) -> Option<f64> {
        self.keys
            .iter()
            .map(|key| {
                let report = reports.iter().find(|r| r.key == *key)?;
                Some(badness(report.id()?, report.baseline?))
            })
            .sum()
    }
}

const FAILURES: [MetricId; 3] = [MetricId::Errors, MetricId::Timeouts, MetricId::RateLimits];

/// The category the record commits to, else the triage's last likely one.
fn category(incident: &Incident, entries: &[TimelineEntry]) -> Option<Category> {
    incident.root_cause.or_else(|| {
        entries.iter().rev().find_map(|e| match &e.kind {
            EntryKind::Triage { step, verdict } if verdict == "likely" => step.parse().ok(),
            _ => None,
        })
    })
}

/// The metric the impact is stated in: the incident's own. Every failed call when the category
/// (or, with none, the alarm that opened it) is infrastructure; else the opening alarm's quality
/// metric, else the alarmed quality metric that rose most. An alarm a mitigation was expected to
/// raise is not a detection, so it never tells the impact.
pub fn primary(
    incident: &Incident,
    entries: &[TimelineEntry],
    reports: &[MetricReport],
) -> Option<Basis> {
    let counted = |r: &&MetricReport| {
        r.evaluated > 0 && r.id().is_some_and(|id| id.measure() == Measure::Rate)
    };
    let opening = entries.iter().find_map(|e| match &e.kind {
        EntryKind::Detection { metric: key, state } if state != "ok" => metric(key),
        _ => None,
    });
    let category = category(incident, entries);
    let about_provider = match category {
        Some(category) => category == Category::Infrastructure,
        None => opening.is_some_and(|id| id.family() == Family::Transport),
    };
    if about_provider {
        let keys: Vec<&'static str> = FAILURES
            .iter()
            .filter(|id| reports.iter().filter(counted).any(|r| r.key == id.key()))
            .map(|id| id.key())
            .collect();
        if !keys.is_empty() {
            let because = match category {
                Some(_) => "every failed call, since the incident is about infrastructure",
                None => "every failed call, since a transport alarm opened the incident",
            };
            return Some(Basis::failures(keys, because));
        }
    }
    let quality = |r: &&MetricReport| r.quality;
    if let Some(id) = opening
        && reports
            .iter()
            .filter(counted)
            .filter(quality)
            .any(|r| r.key == id.key())
    {
        return Some(Basis::one(
            id,
            "the metric of the alarm that opened the incident",
        ));
    }
    let rise = |r: &MetricReport| {
        let id = r.id()?;
        Some(badness(id, r.peak.as_ref()?.value) - badness(id, r.baseline?))
    };
    let most = |alarmed_only: bool| {
        reports
            .iter()
            .filter(counted)
            .filter(quality)
            .filter(|r| r.alarmed || !alarmed_only)
            .filter_map(|r| Some((r.id()?, rise(r)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id)
    };
    if let Some(id) = most(true) {
        return Some(Basis::one(
            id,
            "the alarmed quality metric that rose most over its baseline",
        ));
    }
    most(false).map(|id| Basis::one(id, "the quality metric that rose most over its baseline"))
}

/// The impact over the window's whole minutes, from the per-minute counts of `basis`'s metrics.
pub fn impact(
    samples: &[MinuteSample],
    basis: &Basis,
    reports: &[MetricReport],
    window: &Window,
) -> Option<Impact> {
    let Window {
        start,
        start_from,
        end,
        end_from,
    } = *window;
    let minutes: Vec<_> = overlapping(samples, start, end).collect();
    // Per minute: the bad calls of every metric, over the calls they were checked on (each
    // transport metric counts every call, so the largest count is the calls).
    let counts: Vec<(DateTime<Utc>, u64, u64)> = minutes
        .iter()
        .map(|s| {
            let of_metric = basis.keys.iter().filter_map(|key| s.metrics.get(*key));
            let (bad, of) = of_metric.fold((0, 0), |(bad, of), m| {
                (bad + m.bad.unwrap_or(0), of.max(m.of.unwrap_or(0)))
            });
            (s.minute, bad, of)
        })
        .collect();
    let (bad, of) = counts
        .iter()
        .fold((0, 0), |(bad, of), (_, b, o)| (bad + b, of + o));
    if of == 0 {
        return None;
    }
    let worst = counts
        .iter()
        .filter(|(_, _, of)| *of > 0)
        .map(|(minute, bad, of)| WorstMinute {
            minute: *minute,
            rate: *bad as f64 / *of as f64,
        })
        .max_by(|a, b| a.rate.total_cmp(&b.rate));
    let summed_from = minutes.first()?.minute;
    let summed_until = minutes.last()?.minute + Duration::minutes(1);
    let rate = bad as f64 / of as f64;
    let baseline_rate = basis.baseline_rate(reports);
    let expected = baseline_rate.map(|b| b * of as f64);
    let excess = expected.map(|e| bad as f64 - e);
    let (noun, verb) = (basis.noun, basis.verb);
    let against = baseline_rate
        .map(|b| format!(", against a {} baseline", text::percent(b)))
        .unwrap_or_default();
    let sentence = format!(
        "{} of {noun} ({} of {} checked calls) {verb} {}{against}: {}.",
        text::percent(rate),
        text::count(bad),
        text::count(of),
        text::between(summed_from, summed_until),
        how_often(rate, noun),
    );
    let excess_sentence = excess.zip(expected).map(|(excess, expected)| {
        let added = if excess >= 0.5 {
            format!("so the incident added about {excess:.0}")
        } else {
            "so the incident added none above the baseline".to_string()
        };
        let failures = if expected.round() == 1.0 {
            "failure"
        } else {
            "failures"
        };
        format!(
            "At the baseline rate those {} calls would have had about {expected:.0} such {failures}, {added}.",
            text::count(of)
        )
    });
    let max_stride = minutes.iter().map(|s| s.stride).max().unwrap_or(1);
    let strided = minutes.iter().filter(|s| s.stride > 1).count();
    let sampling_note = (max_stride > 1).then(|| {
        format!(
            "Counts are of sampled calls: in {strided} of the window's {} minutes the engine counted one call in up to {max_stride}.",
            minutes.len()
        )
    });
    Some(Impact {
        metric: basis.metric.clone(),
        label: basis.label.clone(),
        noun: noun.to_string(),
        what: verb.to_string(),
        chosen_because: basis.chosen_because.clone(),
        start,
        start_from,
        end,
        end_from,
        minutes: minutes.len(),
        summed_from,
        summed_until,
        bad,
        of,
        rate,
        worst,
        baseline_rate,
        expected_at_baseline: expected,
        excess,
        max_stride,
        sentence,
        excess_sentence,
        sampling_note,
    })
}

/// The impact start if set; else the first minute of the run above baseline + warn limit that
/// reaches the detection (a single dip or empty minute inside it tolerated); else the opening.
fn window_start(
    incident: &Incident,
    samples: &[MinuteSample],
    metric: Option<&MetricReport>,
) -> (DateTime<Utc>, Edge) {
    if let Some(at) = incident.impact_start {
        return (at, Edge::ImpactStart);
    }
    let Some(report) = metric else {
        return (incident.opened_at, Edge::Opened);
    };
    let detected = incident.detected_at.unwrap_or(incident.opened_at);
    let above = |s: &MinuteSample| {
        let (Some(id), Some(edge)) = (report.id(), report.warn_edge()) else {
            return false;
        };
        let value = s.metrics.get(&report.key).and_then(|m| m.value);
        value.is_some_and(|v| badness(id, v) > badness(id, edge))
    };
    // Back from the last minute that began before the detection; one noisy minute at baseline,
    // or one without calls, does not end a run, two in a row do.
    let mut first = None;
    let mut misses = 0;
    let mut later: Option<DateTime<Utc>> = None;
    for s in samples.iter().rev().filter(|s| s.minute < detected) {
        let missing = later.map_or(0, |later| (later - s.minute).num_minutes() - 1);
        misses += missing.max(0);
        if misses > 1 {
            break;
        }
        if above(s) {
            first = Some(s.minute);
            misses = 0;
        } else {
            misses += 1;
        }
        later = Some(s.minute);
    }
    first.map_or((incident.opened_at, Edge::Opened), |minute| {
        (minute, Edge::FirstMinuteAboveWarn)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::incident::postmortem::quality;
    use crate::model::{MetricMinute, Severity};

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-03-14T14:{minute:02}:00Z").parse().unwrap()
    }

    fn entry(seq: u64, kind: EntryKind) -> TimelineEntry {
        TimelineEntry {
            seq,
            ts: at(8),
            recorded_at: at(8),
            actor: "flightdeck".into(),
            kind,
            text: String::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// Ten quiet minutes at a 4% baseline, then five at 20% (4 of 20 checked), detected at 14:08.
    fn unmarked_incident() -> (Incident, Vec<TimelineEntry>, Vec<MinuteSample>) {
        let entries = vec![
            entry(
                1,
                EntryKind::Opened {
                    id: "INC-1".into(),
                    title: "Hallucination critical".into(),
                    severity: Severity::Sev2,
                    source: "test".into(),
                    drill: None,
                },
            ),
            entry(
                2,
                EntryKind::Detection {
                    metric: "hallucination_rate".into(),
                    state: "critical".into(),
                },
            ),
        ];
        let samples = (0..10)
            .map(|minute| {
                let bad = if minute >= 5 { 4 } else { 1 };
                let rate = MetricMinute {
                    value: Some(bad as f64 / 20.0),
                    bad: Some(bad),
                    of: Some(20),
                    baseline: Some(0.04),
                };
                MinuteSample {
                    minute: at(minute),
                    calls: 25,
                    stride: if minute == 9 { 4 } else { 1 },
                    metrics: BTreeMap::from([("hallucination_rate".to_string(), rate)]),
                }
            })
            .collect();
        let incident = Incident::from_timeline(&entries).unwrap();
        (incident, entries, samples)
    }

    #[test]
    fn without_an_impact_start_the_window_opens_at_the_run_above_the_warn_limit() {
        let (incident, entries, samples) = unmarked_incident();
        let span = quality::incident_span(&incident, &samples);
        let reports = quality::reports(&incident, &entries, &samples, span);
        let basis = primary(&incident, &entries, &reports).unwrap();
        let window = window(&incident, &samples, basis.lead(&reports));
        let impact = impact(&samples, &basis, &reports, &window).unwrap();
        assert_eq!(
            (impact.start, impact.start_from),
            (at(5), Edge::FirstMinuteAboveWarn)
        );
        assert_eq!((impact.end, impact.end_from), (at(10), Edge::LastSample));
        assert_eq!((impact.bad, impact.of, impact.minutes), (20, 100, 5));
        assert!((impact.excess.unwrap() - 16.0).abs() < 1e-9);
        assert!(
            impact
                .sentence
                .starts_with("20.0% of requests (20 of 100 checked calls)")
        );
        assert!(
            impact
                .sampling_note
                .as_ref()
                .unwrap()
                .contains("one call in up to 4")
        );
    }

    #[test]
    fn how_often_says_it_was_not_every_request() {
        assert_eq!(
            how_often(0.219, "requests"),
            "1 in 5 requests, not every request"
        );
        assert_eq!(
            how_often(0.7, "requests"),
            "most requests, not every request"
        );
        assert_eq!(
            how_often(0.97, "rated answers"),
            "nearly every rated answer"
        );
    }
}
