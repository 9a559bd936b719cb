//! Mitigations: asking for one, the confirm dialog, following it through the backend, and
//! checking that the alarming metrics came back.

use chrono::{DateTime, Duration, Utc};

use super::keymap;
use super::{App, Button, Effect, Level, Overlay, SYSTEM_ACTOR};
use crate::engine::metrics::MetricId;
use crate::model::{EntryKind, MitigationKind, MitigationPlan, MitigationStage, Outcome, Severity};

/// The mitigation being carried out: at most one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub plan: MitigationPlan,
    /// The backend has accepted it and its state is being read back.
    pub applied: bool,
}

/// A mitigation waiting for the metrics that alarmed to come back.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub kind: MitigationKind,
    pub applied_at: DateTime<Utc>,
    pub metrics: Vec<MetricId>,
}

/// Whether a mitigation can be expected to bring the metric back. None changes what users ask,
/// and the kill switch's fallback answers differently from the model by design.
fn verifiable(metric: MetricId, kind: MitigationKind) -> bool {
    metric.family().is_failure()
        && !(kind == MitigationKind::KillSwitch && metric == MetricId::Similarity)
}

/// How long a mitigation has to bring the alarming metrics back before it is called ineffective.
pub fn verification_deadline() -> Duration {
    Duration::minutes(15)
}

fn result(action: &str, outcome: Outcome) -> EntryKind {
    EntryKind::ActionResult {
        action: action.to_string(),
        outcome,
    }
}

impl App {
    /// How far a mitigation of this kind has gone in this incident, as the screens say it:
    /// "applied, verifying" while its metrics are watched, "applied" after; None if not applied.
    pub fn mitigation_status(&self, kind: MitigationKind) -> Option<&'static str> {
        if self.verification.as_ref().is_some_and(|v| v.kind == kind) {
            Some("applied, verifying")
        } else if self.applied.contains(&kind) {
            Some("applied")
        } else {
            None
        }
    }

    pub(super) fn request_mitigation(&mut self, kind: MitigationKind) -> Vec<Effect> {
        let Some(plan) = self.plan(kind).cloned() else {
            self.message = Some((Level::Warn, format!("{kind}: backend state not read yet")));
            return Vec::new();
        };
        self.request(plan)
    }

    /// Logs the request and opens the confirm dialog, unless the plan cannot be carried out now.
    pub(super) fn request(&mut self, plan: MitigationPlan) -> Vec<Effect> {
        if self.settings.read_only {
            self.message = Some((
                Level::Warn,
                "read-only mode: mitigations are disabled".into(),
            ));
            return Vec::new();
        }
        if let Some(running) = &self.in_flight {
            self.message = Some((
                Level::Warn,
                format!("{} is still being applied", running.plan.action()),
            ));
            return Vec::new();
        }
        if let Some(reason) = &plan.unavailable {
            self.message = Some((
                Level::Warn,
                format!("{} unavailable: {reason}", plan.action()),
            ));
            return Vec::new();
        }
        let actor = self.settings.actor.clone();
        let effects = self
            .log(
                EntryKind::ActionRequested {
                    action: plan.action(),
                },
                &actor,
                format!("requested {} via {}", plan.summary(), plan.backend),
            )
            .into_iter()
            .collect();
        self.overlay = Some(Overlay::Confirm {
            plan: Box::new(plan),
            focus: Button::Cancel,
            typed: String::new(),
        });
        effects
    }

    /// A key the confirm dialog has no binding for types the target's name, when it asks for one.
    pub(super) fn type_confirm_name(&mut self, key: keymap::Key) {
        let Some(Overlay::Confirm { plan, typed, .. }) = &mut self.overlay else {
            return;
        };
        if plan.confirm_name.is_none() {
            return;
        }
        match key {
            keymap::Key::Char(c) => typed.push(c),
            keymap::Key::Backspace => {
                typed.pop();
            }
            _ => {}
        }
    }

    pub(super) fn activate_confirm(&mut self) -> Vec<Effect> {
        let Some(Overlay::Confirm { plan, focus, typed }) = self.overlay.clone() else {
            return Vec::new();
        };
        if focus == Button::Cancel {
            return self.back();
        }
        if let Some(name) = &plan.confirm_name
            && typed != *name
        {
            self.message = Some((
                Level::Warn,
                format!("{} is production: type {name} to apply", plan.target),
            ));
            return Vec::new();
        }
        self.overlay = None;
        self.in_flight = Some(InFlight {
            plan: (*plan).clone(),
            applied: false,
        });
        let actor = self.settings.actor.clone();
        let mut effects = Vec::new();
        if self.incident.is_none() {
            // A mitigation is always logged: confirming one with no incident open declares one.
            effects.extend(self.open_incident(
                format!("Declared by {actor} to apply a {}", plan.kind),
                Severity::Sev3,
                actor.clone(),
            ));
            effects.extend(self.log(
                EntryKind::ActionRequested {
                    action: plan.action(),
                },
                &actor,
                format!("requested {} via {}", plan.summary(), plan.backend),
            ));
        }
        effects.extend(self.log(
            EntryKind::ActionConfirmed {
                action: plan.action(),
            },
            &actor,
            format!(
                "confirmed {} via {} ({}){}",
                plan.summary(),
                plan.backend,
                plan.operation,
                if self.settings.dry_run {
                    ", dry run: nothing is sent"
                } else {
                    ""
                }
            ),
        ));
        effects.push(Effect::ApplyMitigation {
            plan,
            incident: self.incident.as_ref().map(|i| i.id.clone()),
        });
        effects
    }

    /// Logs each stage of the mitigation in flight; a success starts the engine's verification.
    pub(super) fn mitigation_progress(&mut self, stage: MitigationStage) -> Vec<Effect> {
        let Some(flight) = self.in_flight.as_mut() else {
            tracing::warn!(?stage, "a mitigation stage with no mitigation in flight");
            return Vec::new();
        };
        let plan = flight.plan.clone();
        let action = plan.action();
        if stage.is_final() {
            self.in_flight = None;
        } else {
            flight.applied = true;
        }
        let (kind, level, text, took) = match stage {
            MitigationStage::Applied { answer, undo } => {
                // What was written is what `u` puts back, whatever the read-back says; an undo
                // that was written leaves nothing to undo.
                self.undo = if plan.undo { None } else { undo.map(|u| *u) };
                (
                    EntryKind::ActionApplied {
                        action: action.clone(),
                        backend: plan.backend.clone(),
                    },
                    Level::Info,
                    format!("{action} applied by {}: {answer}", plan.backend),
                    false,
                )
            }
            MitigationStage::Verified { read_back } => (
                result(&action, Outcome::Succeeded),
                Level::Info,
                format!("{action} verified by read-back: {read_back}"),
                true,
            ),
            MitigationStage::Unverified { why } => (
                result(&action, Outcome::Unverified),
                Level::Warn,
                format!("{action} sent, not verified: {why}"),
                true,
            ),
            MitigationStage::Failed { reason } => (
                result(&action, Outcome::Failed),
                Level::Error,
                format!("{action} failed: {reason}"),
                false,
            ),
            MitigationStage::DryRun { request } => (
                result(&action, Outcome::DryRun),
                Level::Info,
                format!("{action} dry run, nothing sent; would send: {request}"),
                false,
            ),
        };
        self.message = Some((level, text.clone()));
        let written = matches!(kind, EntryKind::ActionApplied { .. });
        let mut effects: Vec<Effect> = self.log(kind, SYSTEM_ACTOR, text).into_iter().collect();
        if plan.undo && written {
            effects.extend(self.undone(plan.kind));
        } else if took && !plan.undo {
            effects.extend(self.mitigation_took(&plan));
        }
        effects
    }

    /// A mitigation took effect: the engine's verification of the metrics that alarmed starts.
    /// An undo was written: what it undid is no longer applied nor verified, whatever its
    /// read-back says next.
    pub(super) fn undone(&mut self, kind: MitigationKind) -> Vec<Effect> {
        self.applied.retain(|k| *k != kind);
        self.expected_effects.retain(|_, (by, _)| *by != kind);
        if self.verification.as_ref().is_none_or(|v| v.kind != kind) {
            return Vec::new();
        }
        self.verification = None;
        self.log(
            EntryKind::Verification {
                action: kind.to_string(),
                recovered: false,
            },
            SYSTEM_ACTOR,
            format!("verification of {kind} ended: it was undone"),
        )
        .into_iter()
        .collect()
    }

    pub(super) fn mitigation_took(&mut self, plan: &MitigationPlan) -> Vec<Effect> {
        let kind = plan.kind;
        let mut effects = Vec::new();
        let Some(now) = self.now else {
            return effects;
        };
        self.engine.mark_mitigation(now);
        self.applied.push(kind);
        // Only metrics not alarming already: an alarm under way is still the incident's.
        for id in MetricId::ALL {
            let alarming = self.logged_states.get(&id).is_some_and(|s| s.is_alarm());
            if let Some(why) = id.expected_after(kind)
                && !alarming
            {
                self.expected_effects.insert(id, (kind, why));
            }
        }
        if let Some(previous) = self.verification.take() {
            effects.extend(self.log(
                EntryKind::Verification {
                    action: previous.kind.to_string(),
                    recovered: false,
                },
                SYSTEM_ACTOR,
                format!("verification of {} superseded by {kind}", previous.kind),
            ));
        }
        let metrics: Vec<MetricId> = self
            .assessment
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.metrics.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|m| verifiable(*m, kind))
            .collect();
        if metrics.is_empty() {
            effects.extend(self.log(
                EntryKind::Verification {
                    action: kind.to_string(),
                    recovered: false,
                },
                SYSTEM_ACTOR,
                format!("{kind}: nothing to verify, no metric has alarmed"),
            ));
        } else {
            self.verification = Some(Verification {
                kind,
                applied_at: now,
                metrics,
            });
            effects.extend(self.verify(now));
        }
        effects
    }
}
