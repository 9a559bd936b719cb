//! The impact as a share of requests over a window: how intermittent it was, against what the
//! baseline would have given, from the primary metric's minute samples.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::quality::{MetricReport, badness, metric, overlapping};
use super::text;
use crate::engine::metrics::{Measure, MetricId};
use crate::model::{EntryKind, Incident, MinuteSample, TimelineEntry};

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// The primary metric's key and label.
    pub metric: String,
    pub label: String,
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

/// The metric the impact is stated in: the first detection's, if it is a rate with counts, or
/// the rate that rose most over its baseline.
pub fn primary<'a>(
    entries: &[TimelineEntry],
    reports: &'a [MetricReport],
) -> Option<(&'a MetricReport, String)> {
    let counted = |r: &&MetricReport| {
        r.evaluated > 0 && r.id().is_some_and(|id| id.measure() == Measure::Rate)
    };
    let detected = entries.iter().find_map(|e| match &e.kind {
        EntryKind::Detection { metric, state } if state != "ok" => Some(metric.as_str()),
        _ => None,
    });
    if let Some(found) =
        detected.and_then(|key| reports.iter().filter(counted).find(|r| r.key == key))
    {
        return Some((found, "the first detection's metric".to_string()));
    }
    let rise = |r: &MetricReport| {
        let id = r.id()?;
        Some(badness(id, r.peak.as_ref()?.value) - badness(id, r.baseline?))
    };
    reports
        .iter()
        .filter(counted)
        .filter_map(|r| Some((r, rise(r)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| (r, "the metric that rose most over its baseline".to_string()))
}

pub fn impact(
    samples: &[MinuteSample],
    report: &MetricReport,
    chosen_because: String,
    window: &Window,
) -> Option<Impact> {
    let id = metric(&report.key)?;
    let key = id.key();
    let Window {
        start,
        start_from,
        end,
        end_from,
    } = *window;
    let minutes: Vec<_> = overlapping(samples, start, end).collect();
    let (bad, of) = minutes
        .iter()
        .filter_map(|s| s.metrics.get(key))
        .fold((0, 0), |(bad, of), m| {
            (bad + m.bad.unwrap_or(0), of + m.of.unwrap_or(0))
        });
    if of == 0 {
        return None;
    }
    let summed_from = minutes.first()?.minute;
    let summed_until = minutes.last()?.minute + Duration::minutes(1);
    let rate = bad as f64 / of as f64;
    let baseline_rate = report.baseline.map(|b| badness(id, b));
    let expected = baseline_rate.map(|b| b * of as f64);
    let excess = expected.map(|e| bad as f64 - e);
    let (noun, verb) = phrase(id);
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
        format!(
            "At the baseline rate those {} calls would have had about {expected:.0} such failures, {added}.",
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
        metric: key.to_string(),
        label: id.label().to_string(),
        chosen_because,
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
        let (primary, why) = primary(&entries, &reports).unwrap();
        let window = window(&incident, &samples, Some(primary));
        let impact = impact(&samples, primary, why, &window).unwrap();
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
