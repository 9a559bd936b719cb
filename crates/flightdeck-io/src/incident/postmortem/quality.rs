//! Each metric's minutes over the incident: its baseline, its worst minute, where it stood at
//! mitigation and resolution, and how much of the traffic its evaluator judged.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::engine::metrics::{Family, Measure, MetricId};
use crate::model::{EntryKind, Incident, MinuteSample, TimelineEntry};

/// The metric a sample key names, if flightdeck knows it.
pub fn metric(key: &str) -> Option<MetricId> {
    MetricId::ALL.into_iter().find(|m| m.key() == key)
}

/// A metric's displayed value as the share of bad calls (Schema, Grounded and Similarity are
/// shown as the good share); latency stays in milliseconds.
pub fn badness(id: MetricId, value: f64) -> f64 {
    if id.shows_good_share() {
        1.0 - value
    } else {
        value
    }
}

/// The minutes that overlap `[start, end)`.
pub fn overlapping(
    samples: &[MinuteSample],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Iterator<Item = &MinuteSample> {
    samples
        .iter()
        .filter(move |s| s.minute + Duration::minutes(1) > start && s.minute < end)
}

/// Where the incident's own minutes begin and end before its impact window is known: the impact
/// start (or the opening) to the resolution (or the last sample). Only for choosing the metric
/// the window is stated in.
pub fn incident_span(
    incident: &Incident,
    samples: &[MinuteSample],
) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = incident.impact_start.unwrap_or(incident.opened_at);
    let last = samples.last().map(|s| s.minute + Duration::minutes(1));
    let end = incident
        .resolved_at
        .or(last)
        .unwrap_or(incident.opened_at)
        .max(start);
    (start, end)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share of calls in 0..1.
    Fraction,
    Milliseconds,
}

/// One minute's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub minute: DateTime<Utc>,
    pub value: f64,
    /// For a rate, the calls it was measured on: a minute of one rated call reads 100%.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub minute: DateTime<Utc>,
    pub value: Option<f64>,
}

/// One metric over the incident, in its display units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub key: String,
    pub label: String,
    pub unit: Unit,
    /// The value is the share of good calls (so lower is worse).
    pub good_share: bool,
    /// Whether it is a quality metric (what the answers say) rather than transport or input.
    pub quality: bool,
    /// The engine's baseline at the impact window's start (or the earliest one recorded).
    pub baseline: Option<f64>,
    /// The first minute that carried a baseline.
    pub baseline_since: Option<DateTime<Utc>>,
    /// The worst minute of the impact window, in the metric's bad direction.
    pub peak: Option<Reading>,
    /// The last minute that began before the mitigation / resolution.
    pub at_mitigation: Option<Reading>,
    pub at_resolution: Option<Reading>,
    /// A detector alarmed on it (a detection entry other than back to ok).
    pub alarmed: bool,
    /// Calls its evaluator judged in the impact window's minutes, and calls counted.
    pub evaluated: u64,
    pub calls: u64,
    pub coverage: Option<f64>,
    /// Every recorded minute, before, during and after the incident.
    pub points: Vec<Point>,
}

impl MetricReport {
    pub fn id(&self) -> Option<MetricId> {
        metric(&self.key)
    }

    /// The warn limit's edge of the normal band, in display units: the band is drawn from the
    /// baseline to it.
    pub fn warn_edge(&self) -> Option<f64> {
        let id = self.id()?;
        let baseline = self.baseline?;
        let warn = id.limits().warn;
        Some(match id.measure() {
            Measure::Latency(_) => baseline * warn,
            _ if self.good_share => baseline - warn,
            _ => baseline + warn,
        })
    }
}

/// One report per metric the samples carry, in the cockpit's order: its baseline at the start of
/// `window`, and its worst minute and coverage over the minutes overlapping it.
pub fn reports(
    incident: &Incident,
    entries: &[TimelineEntry],
    samples: &[MinuteSample],
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<MetricReport> {
    MetricId::ALL
        .into_iter()
        .filter(|id| samples.iter().any(|s| s.metrics.contains_key(id.key())))
        .map(|id| report(id, incident, entries, samples, window))
        .collect()
}

fn report(
    id: MetricId,
    incident: &Incident,
    entries: &[TimelineEntry],
    samples: &[MinuteSample],
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> MetricReport {
    let key = id.key();
    let value_at = |s: &MinuteSample| s.metrics.get(key).and_then(|m| m.value);
    let reading = |s: &MinuteSample| {
        value_at(s).map(|value| Reading {
            minute: s.minute,
            value,
            of: s.metrics.get(key).and_then(|m| m.of),
        })
    };
    let before = |at: Option<DateTime<Utc>>| {
        let at = at?;
        samples
            .iter()
            .filter(|s| s.minute < at)
            .rev()
            .find_map(reading)
    };
    let with_baseline = || {
        samples
            .iter()
            .filter_map(|s| Some((s.minute, s.metrics.get(key)?.baseline?)))
    };
    let baseline = with_baseline()
        .rfind(|(minute, _)| *minute <= start)
        .or_else(|| with_baseline().next())
        .map(|(_, b)| b);
    let peak = overlapping(samples, start, end)
        .filter_map(reading)
        .reduce(|worst, r| {
            if badness(id, r.value) > badness(id, worst.value) {
                r
            } else {
                worst
            }
        });
    let during: Vec<_> = overlapping(samples, start, end).collect();
    let evaluated: u64 = during.iter().filter_map(|s| s.metrics.get(key)?.of).sum();
    let calls: u64 = during.iter().map(|s| s.calls).sum();
    let is_rate = matches!(id.measure(), Measure::Rate);
    MetricReport {
        key: key.to_string(),
        label: id.label().to_string(),
        unit: if is_rate {
            Unit::Fraction
        } else {
            Unit::Milliseconds
        },
        good_share: id.shows_good_share(),
        quality: id.family() == Family::Quality,
        baseline,
        baseline_since: with_baseline().next().map(|(minute, _)| minute),
        peak,
        at_mitigation: before(incident.mitigated_at),
        at_resolution: before(incident.resolved_at),
        alarmed: entries.iter().any(|e| {
            matches!(&e.kind, EntryKind::Detection { metric, state } if metric == key && state != "ok")
        }),
        evaluated,
        calls,
        coverage: (is_rate && calls > 0).then(|| evaluated as f64 / calls as f64),
        points: samples
            .iter()
            .map(|s| Point {
                minute: s.minute,
                value: value_at(s),
            })
            .collect(),
    }
}
