//! What an open incident keeps beside its timeline: each whole minute's metrics, from an hour
//! before it opened until a while after it is resolved, and a few calls that failed the metrics
//! that alarmed, for the postmortem's rates, charts and evaluation examples.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{App, Effect};
use crate::engine::metrics::{Family, MetricId};
use crate::model::{Call, FailingCall, Measurement};

/// How far before the incident opened its minutes are kept: the impact usually starts earlier.
fn lookback() -> Duration {
    Duration::minutes(60)
}

/// How long after resolution minutes are still kept, so the charts show the recovery hold.
fn after_resolved() -> Duration {
    Duration::minutes(15)
}

/// A minute is recorded this long after it ends: live sources deliver late calls.
fn grace() -> Duration {
    Duration::seconds(30)
}

/// Failing calls kept until each alarming metric has this many, and at most this many calls in
/// all: enough to seed an evaluation set.
const EXAMPLES_PER_METRIC: usize = 5;
const EXAMPLES_MAX: usize = 20;

/// At most one failing call kept per this span, so the examples spread over the incident rather
/// than all coming from its first minute.
fn example_spacing() -> Duration {
    Duration::seconds(30)
}

/// Where an incident's measurements stand.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Minutes before this one are recorded.
    pub minutes_until: Option<DateTime<Utc>>,
    /// Failing calls kept so far, by metric they failed.
    pub examples: HashMap<MetricId, usize>,
    /// Failing calls kept so far.
    pub kept_calls: usize,
    /// When the last one was.
    pub last_kept: Option<DateTime<Utc>>,
    /// The alarm whose onset the impact start was estimated from.
    pub impact_episode: Option<DateTime<Utc>>,
}

impl App {
    /// Whether the incident still records its telemetry at `now`.
    fn recording(&self, now: DateTime<Utc>) -> Option<String> {
        let incident = self.incident.as_ref()?;
        let recording = incident
            .resolved_at
            .is_none_or(|resolved| now - resolved <= after_resolved());
        recording.then(|| incident.id.clone())
    }

    /// The whole minutes since the last ones recorded, with the baselines of the moment.
    pub(super) fn record_minutes(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        let Some(incident_id) = self.recording(now) else {
            return Vec::new();
        };
        let Ok(this_minute) = (now - grace()).duration_trunc(Duration::minutes(1)) else {
            return Vec::new();
        };
        let opened = self.incident.as_ref().map_or(now, |i| i.opened_at);
        let from = self.measured.minutes_until.unwrap_or(opened - lookback());
        if from >= this_minute {
            return Vec::new();
        }
        let baselines: HashMap<MetricId, f64> = self
            .assessment
            .iter()
            .flat_map(|a| &a.metrics)
            .filter_map(|r| Some((r.id, r.baseline?)))
            .collect();
        let last_whole = this_minute - Duration::seconds(1);
        self.measured.minutes_until = Some(this_minute);
        self.engine
            .minute_samples(from, last_whole, &baselines)
            .into_iter()
            .map(|sample| Effect::Measure {
                incident_id: incident_id.clone(),
                measurement: Box::new(Measurement::Minute(sample)),
            })
            .collect()
    }

    /// Keeps a call that failed a quality metric the incident alarmed on, within the caps.
    pub(super) fn keep_failing_call(&mut self, call: &Call, failed: &[MetricId]) -> Option<Effect> {
        // Once a mitigation took or the bleeding stopped, what still fails is no longer the
        // incident's failure.
        let stopped = !self.applied.is_empty()
            || self
                .incident
                .as_ref()
                .is_some_and(|i| i.mitigated_at.is_some());
        if stopped
            || self.measured.kept_calls >= EXAMPLES_MAX
            || self
                .measured
                .last_kept
                .is_some_and(|last| call.ts - last < example_spacing())
        {
            return None;
        }
        let alarming = &self.assessment.as_ref()?.episode.as_ref()?.metrics;
        let wanted: Vec<MetricId> = failed
            .iter()
            .copied()
            .filter(|m| m.family() == Family::Quality && alarming.contains(m))
            .collect();
        let room = wanted
            .iter()
            .any(|m| self.measured.examples.get(m).copied().unwrap_or(0) < EXAMPLES_PER_METRIC);
        if !room {
            return None;
        }
        let incident_id = self.recording(call.ts)?;
        self.measured.kept_calls += 1;
        self.measured.last_kept = Some(call.ts);
        for metric in &wanted {
            *self.measured.examples.entry(*metric).or_default() += 1;
        }
        let example = FailingCall {
            ts: call.ts,
            request_id: call.request_id.clone(),
            feature: call.feature.clone(),
            model: call
                .model_served
                .clone()
                .unwrap_or_else(|| call.model_requested.clone()),
            prompt_version: call.prompt_version.clone(),
            failed: wanted.iter().map(|m| m.key().to_string()).collect(),
            input: call.input.clone(),
            output: call.output.clone(),
        };
        Some(Effect::Measure {
            incident_id,
            measurement: Box::new(Measurement::Example(example)),
        })
    }
}
