//! What the app does with new telemetry: feed the engine, open an incident when a metric goes
//! critical, and log detections, triage verdicts, changes and verifications.

use std::iter::Peekable;
use std::vec::IntoIter;

use chrono::{DateTime, Duration, Utc};

use super::metric_states::{describe, has_recovered};
use super::{App, Effect, Level, SYSTEM_ACTOR, verification_deadline};
use crate::engine::metrics::{MetricReading, MetricState};
use crate::engine::triage::Verdict;
use crate::engine::{LeadMove, diff, repeats};
use crate::model::{Call, Change, EntryKind, NamedTime, Severity, Status};

/// How far past its source's clock a call may be dated: clocks drift, years are not typos.
fn future_tolerance() -> Duration {
    Duration::minutes(5)
}

impl App {
    pub(super) fn observe(
        &mut self,
        now: DateTime<Utc>,
        wall: DateTime<Utc>,
        calls: Vec<Call>,
        changes: Vec<Change>,
    ) -> Vec<Effect> {
        self.wall = wall;
        // A call dated ahead of its source's clock (a clock or a year typo) would push every
        // window past the rest of the traffic and the retention past all of it: refuse it, say so.
        let horizon = now + future_tolerance();
        let (mut calls, ahead): (Vec<Call>, Vec<Call>) =
            calls.into_iter().partition(|c| c.ts <= horizon);
        if let Some(first) = ahead.first() {
            self.calls_refused_as_future += ahead.len() as u64;
            self.message = Some((
                Level::Warn,
                format!(
                    "refused {} calls dated ahead of the clock ({} calls so far), e.g. {} at {}",
                    ahead.len(),
                    self.calls_refused_as_future,
                    first.request_id.as_deref().unwrap_or("a call"),
                    first.ts.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            ));
        }
        // In time order, so a change is known before the calls that follow it and every
        // evaluation sees exactly the records dated up to it.
        calls.sort_by_key(|c| c.ts);
        let mut changes = changes;
        changes.sort_by_key(|c| c.ts);
        let first = calls.first().map(|c| c.ts).into_iter();
        self.cadence.start(
            first
                .chain(changes.first().map(|c| c.ts))
                .min()
                .unwrap_or(now),
        );
        let mut pending = changes.into_iter().peekable();
        let mut repeats = 0u64;
        let mut effects = Vec::new();
        for call in &calls {
            while let Some(at) = self.cadence.due_before(call.ts) {
                self.ingest_changes_until(&mut pending, at);
                effects.extend(self.evaluate(at));
            }
            self.ingest_changes_until(&mut pending, call.ts);
            self.cadence.took(call.ts);
            let ingested = self.engine.ingest_call_judged(call);
            if ingested.repeat {
                repeats += 1;
                continue;
            }
            self.calls_seen += 1;
            if !ingested.failed.is_empty() && self.quiet_until.is_none() {
                effects.extend(self.keep_failing_call(call, &ingested.failed));
            }
        }
        if repeats > 0 {
            self.message = Some((
                Level::Warn,
                format!(
                    "{repeats} repeats counted once (same request_id ≤ {} min)",
                    repeats::window().num_minutes()
                ),
            ));
        }
        // Changes before the next evaluation go in first: one dated at or before the last
        // evaluation (a mitigation's, reported at once) has that evaluation made again.
        if let Some(next) = self.cadence.next() {
            self.ingest_changes_until(&mut pending, next - Duration::nanoseconds(1));
        }
        while let Some(at) = self.cadence.due_by(now) {
            self.ingest_changes_until(&mut pending, at);
            effects.extend(self.evaluate(at));
        }
        for change in pending {
            self.cadence.took(change.ts);
            self.engine.ingest_change(change);
        }
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
        effects
    }

    fn ingest_changes_until(
        &mut self,
        pending: &mut Peekable<IntoIter<Change>>,
        until: DateTime<Utc>,
    ) {
        while let Some(change) = pending.next_if(|c| c.ts <= until) {
            self.cadence.took(change.ts);
            self.engine.ingest_change(change);
        }
    }

    /// Evaluates the engine at `at` on the stream's clock and logs what it shows.
    fn evaluate(&mut self, at: DateTime<Utc>) -> Vec<Effect> {
        self.now = Some(self.now.map_or(at, |t| t.max(at)));
        let assessment = self.engine.evaluate(at);
        self.assessment = Some(assessment);
        if self.quiet_until.is_some_and(|until| at <= until) {
            self.take_in_quietly();
            return Vec::new();
        }
        self.quiet_until = None;
        let mut effects = self.open_on_critical();
        effects.extend(self.log_metric_states(at));
        effects.extend(self.log_changes());
        effects.extend(self.log_triage());
        effects.extend(self.estimate_impact_start());
        effects.extend(self.verify(at));
        effects.extend(self.record_minutes(at));
        effects
    }

    /// Marks what the current assessment shows as already logged, as the resumed record has it.
    fn take_in_quietly(&mut self) {
        for reading in self.readings() {
            self.logged_states.insert(reading.id, reading.state);
        }
        if let Some(triage) = self.assessment.as_ref().and_then(|a| a.triage.clone()) {
            for step in &triage.steps {
                self.logged_verdicts.insert(step.category, step.verdict);
            }
            self.triage = Some(triage);
        }
        self.logged_lead_move = self.lead_moves().last().map(|m| m.at);
        self.incident_episode = self.current_episode();
        let ids: Vec<u64> = self.engine.changes().iter().map(|r| r.id).collect();
        self.logged_changes.extend(ids);
    }

    pub(super) fn readings(&self) -> Vec<MetricReading> {
        self.assessment
            .as_ref()
            .map(|a| a.metrics.clone())
            .unwrap_or_default()
    }

    fn open_on_critical(&mut self) -> Vec<Effect> {
        let open = self
            .incident
            .as_ref()
            .is_some_and(|i| i.status != Status::Resolved);
        if open || (self.incident.is_some() && self.current_episode() == self.incident_episode) {
            return Vec::new();
        }
        let Some(critical) = self.readings().into_iter().find(|r| {
            r.state == MetricState::Critical
                && r.id.opens_incident()
                && !self.expected_effects.contains_key(&r.id)
        }) else {
            return Vec::new();
        };
        let title = match critical
            .slices
            .iter()
            .find(|s| s.state == MetricState::Critical && critical.service_state < s.state)
        {
            Some(slice) => format!("{} critical on {}", critical.id.label(), slice.name),
            None => format!("{} critical", critical.id.label()),
        };
        self.open_incident(title, Severity::Sev2, SYSTEM_ACTOR.into())
    }

    /// Logs each change once: those in the window before the incident opened, and every later one.
    fn log_changes(&mut self) -> Vec<Effect> {
        let Some(opened) = self.incident.as_ref().map(|i| i.opened_at) else {
            return Vec::new();
        };
        let relevant_from = opened - self.engine.config().prompt_window;
        let fresh: Vec<(u64, String, EntryKind)> = self
            .engine
            .changes()
            .iter()
            .filter(|r| r.change.ts >= relevant_from && !self.logged_changes.contains(&r.id))
            .map(|r| {
                let change = &r.change;
                let diff = change
                    .text_from
                    .as_deref()
                    .zip(change.text_to.as_deref())
                    .map(|(from, to)| diff::compact(&diff::word_diff(from, to)));
                let text = format!("{} at {}", r.summary(), change.ts.format("%H:%M:%S UTC"));
                let kind = EntryKind::ChangeSeen {
                    change: text.clone(),
                    at: Some(change.ts),
                    diff,
                };
                (r.id, text, kind)
            })
            .collect();
        fresh
            .into_iter()
            .filter_map(|(id, text, kind)| {
                self.logged_changes.insert(id);
                self.log(kind, SYSTEM_ACTOR, text)
            })
            .collect()
    }

    fn lead_moves(&self) -> Vec<LeadMove> {
        self.assessment
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.lead_moves.clone())
            .unwrap_or_default()
    }

    fn log_triage(&mut self) -> Vec<Effect> {
        if self.incident.is_none() {
            return Vec::new();
        }
        let Some(triage) = self.assessment.as_ref().and_then(|a| a.triage.clone()) else {
            return Vec::new();
        };
        self.triage = Some(triage.clone());
        let mut effects = Vec::new();
        // Why the headline moved, before the verdicts it moved; a move before the incident
        // opened is already in the triage it opened with.
        let opened = self.incident.as_ref().map(|i| i.opened_at);
        let fresh: Vec<LeadMove> = self
            .lead_moves()
            .into_iter()
            .filter(|m| self.logged_lead_move.is_none_or(|at| m.at > at))
            .filter(|m| opened.is_some_and(|opened| m.at > opened))
            .collect();
        for lead_move in fresh {
            self.logged_lead_move = Some(lead_move.at);
            let text = format!(
                "triage now follows {}: {}; onset {}",
                lead_move.to.metric.label(),
                lead_move.reason,
                triage.onset.format("%H:%M:%S UTC")
            );
            effects.extend(self.log(
                EntryKind::Triage {
                    step: "lead".into(),
                    verdict: "moved".into(),
                },
                SYSTEM_ACTOR,
                text,
            ));
        }
        for step in &triage.steps {
            if step.verdict == Verdict::InsufficientData
                || self.logged_verdicts.get(&step.category) == Some(&step.verdict)
            {
                continue;
            }
            self.logged_verdicts.insert(step.category, step.verdict);
            let text = format!(
                "{}: {} ({})",
                step.category,
                step.verdict,
                step.evidence.join("; ")
            );
            effects.extend(self.log(
                EntryKind::Triage {
                    step: step.category.key().into(),
                    verdict: step.verdict.to_string(),
                },
                SYSTEM_ACTOR,
                text,
            ));
        }
        effects
    }

    /// Checks whether the metrics that alarmed when a mitigation was applied have come back.
    pub(super) fn verify(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        let Some(pending) = self.verification.clone() else {
            return Vec::new();
        };
        let readings = self.readings();
        let watched: Vec<&MetricReading> = readings
            .iter()
            .filter(|r| pending.metrics.contains(&r.id))
            .collect();
        let elapsed = now - pending.applied_at;
        // Recovery counts only once the whole window holds calls from after the mitigation.
        let recovered =
            elapsed >= self.engine.config().window && has_recovered(&readings, &pending.metrics);
        if !recovered && elapsed < verification_deadline() {
            return Vec::new();
        }
        self.verification = None;
        let detail: Vec<String> = watched
            .iter()
            .map(|r| format!("{} {}", r.id.label(), describe(r)))
            .collect();
        let text = if recovered {
            format!(
                "{} verified {} min after it was applied: {}",
                pending.kind,
                elapsed.num_minutes(),
                detail.join("; ")
            )
        } else {
            format!(
                "{} did not bring the metrics back within {} min: {}",
                pending.kind,
                verification_deadline().num_minutes(),
                detail.join("; ")
            )
        };
        let mut effects: Vec<Effect> = self
            .log(
                EntryKind::Verification {
                    action: pending.kind.to_string(),
                    recovered,
                },
                SYSTEM_ACTOR,
                text,
            )
            .into_iter()
            .collect();
        let status = self.incident.as_ref().map(|i| i.status);
        if recovered
            && let Some(from) = status
            && from < Status::Mitigated
        {
            // The bleeding stopped when the verified mitigation took effect, not when the
            // verification's window filled: that moment is the impact window's end.
            let detected = self.incident.as_ref().and_then(|i| i.detected_at);
            let took_effect = detected.map_or(pending.applied_at, |d| pending.applied_at.max(d));
            let unset = self
                .incident
                .as_ref()
                .is_some_and(|i| i.mitigated_at.is_none());
            if unset {
                effects.extend(self.log(
                    EntryKind::TimeSet {
                        time: NamedTime::Mitigated,
                        from: None,
                        to: took_effect,
                    },
                    SYSTEM_ACTOR,
                    format!(
                        "mitigated {}: when the {} that was verified took effect",
                        took_effect.format("%Y-%m-%d %H:%M:%S UTC"),
                        pending.kind
                    ),
                ));
            }
            effects.extend(self.log(
                EntryKind::StatusChanged {
                    from,
                    to: Status::Mitigated,
                },
                SYSTEM_ACTOR,
                format!(
                    "status {from} → {} after a verified {}",
                    Status::Mitigated,
                    pending.kind
                ),
            ));
        }
        effects
    }
}
