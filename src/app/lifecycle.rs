//! An incident's life: declared or opened on an alarm, its status and severity, and a drill's end.

use super::editing::{EditTarget, Editor};
use super::{App, Effect, Level, Overlay, SYSTEM_ACTOR, measure};
use crate::drill::{Answer, Scorecard};
use crate::model::{EntryKind, Incident, NamedTime, Role, Severity, Status, TimelineEntry};

impl App {
    /// `d`: asks for the new incident's title, which confirms the declaration.
    pub(super) fn ask_to_declare(&mut self) -> Vec<Effect> {
        if self.incident_open() {
            self.message = Some((Level::Info, "an incident is already open".into()));
        } else {
            self.overlay = Some(Overlay::Editor(Editor::new(
                EditTarget::Declaration,
                String::new(),
            )));
        }
        Vec::new()
    }

    pub(super) fn incident_open(&self) -> bool {
        self.incident
            .as_ref()
            .is_some_and(|i| i.status != Status::Resolved)
    }

    /// Declares an incident by hand: fresh, with no earlier incident's triage, and its impact
    /// starting at the declaration unless an alarm's evidence dates it earlier.
    pub(super) fn declare(&mut self, title: &str) -> Result<Vec<Effect>, String> {
        if title.is_empty() {
            return Err("an incident needs a title: what is wrong, in a few words".into());
        }
        if self.incident_open() {
            return Err("an incident is already open".into());
        }
        self.engine.restart_episode();
        let actor = self.settings.actor.clone();
        let mut effects = self.open_incident(title.to_string(), Severity::Sev3, actor);
        let at = self.now.unwrap_or(self.wall);
        effects.extend(self.log(
            EntryKind::TimeSet {
                time: NamedTime::ImpactStart,
                from: None,
                to: at,
            },
            SYSTEM_ACTOR,
            format!(
                "impact start {}: the declaration, until an alarm's evidence dates it earlier",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ));
        Ok(effects)
    }

    pub(super) fn change_status(&mut self, to: Status) -> Vec<Effect> {
        let Some(from) = self.incident.as_ref().map(|i| i.status) else {
            self.message = Some((Level::Warn, "no incident open".into()));
            return Vec::new();
        };
        if to <= from {
            self.message = Some((Level::Info, format!("the incident is already {from}")));
            return Vec::new();
        }
        let actor = self.settings.actor.clone();
        let mut effects: Vec<Effect> = self
            .log(
                EntryKind::StatusChanged { from, to },
                &actor,
                format!("status {from} → {to}"),
            )
            .into_iter()
            .collect();
        // Whoever first moves an incident nobody leads yet leads it, as in incident.io.
        let led = self
            .incident
            .as_ref()
            .is_some_and(|i| i.roles.contains_key(&Role::Commander));
        if from == Status::Detected && !led {
            effects.extend(self.assign_role(Role::Commander, &actor, &actor));
        }
        effects
    }

    /// Moves the severity `by` steps (negative is more severe), within SEV1..SEV4.
    pub(super) fn change_severity(&mut self, by: i8) -> Vec<Effect> {
        let Some(from) = self.incident.as_ref().map(|i| i.severity) else {
            self.message = Some((Level::Warn, "no incident open".into()));
            return Vec::new();
        };
        let Some(to) = from.step(by) else {
            self.message = Some((Level::Info, format!("the incident is already {from}")));
            return Vec::new();
        };
        let actor = self.settings.actor.clone();
        self.log(
            EntryKind::SeverityChanged { from, to },
            &actor,
            format!("severity {from} → {to}"),
        )
        .into_iter()
        .collect()
    }

    /// The answer of a drill not scored yet; `None` outside a drill.
    pub(super) fn drill_to_score(&self) -> Option<Answer> {
        if self.scorecard.is_some() {
            return None;
        }
        self.settings.drill.as_deref().and_then(Answer::builtin)
    }

    /// Ends a drill: scores its timeline, logs the scorecard, has it written beside the timeline
    /// and shows it, revealing the scenario.
    pub(super) fn end_drill(&mut self, answer: &Answer) -> Vec<Effect> {
        let started = self.drill_started.or(self.now).unwrap_or(self.wall);
        let entries: Vec<TimelineEntry> = self.timeline.iter().map(|l| l.entry.clone()).collect();
        let scorecard = Scorecard::new(answer, &entries, started);
        let mut effects: Vec<Effect> = self
            .log(EntryKind::Note, SYSTEM_ACTOR, scorecard.lines().join("\n"))
            .into_iter()
            .collect();
        if let Some(incident) = &self.incident {
            effects.push(Effect::WriteScorecard {
                incident_id: incident.id.clone(),
                scorecard: Box::new(scorecard.clone()),
            });
        }
        self.scorecard = Some(scorecard);
        self.overlay = Some(Overlay::Scorecard);
        effects
    }

    /// Opens an incident with its first entry; a person who opens one is its commander.
    pub(super) fn open_incident(
        &mut self,
        title: String,
        severity: Severity,
        actor: String,
    ) -> Vec<Effect> {
        let mut id = format!("INC-{}", self.wall.format("%Y%m%d-%H%M%S"));
        if self
            .incident
            .as_ref()
            .is_some_and(|i| i.id.starts_with(&id))
        {
            // Two incidents within one second: the store refuses to mix them, so name them apart.
            id.push_str(&format!("-{}", self.timeline.len()));
        }
        if let Some(earlier) = &self.incident {
            let now = self.now.unwrap_or(self.wall);
            self.earlier_incident_end = Some(earlier.resolved_at.unwrap_or(now));
        }
        self.timeline.clear();
        self.incident = None;
        self.triage = None;
        self.logged_states.clear();
        self.alarmed_at.clear();
        self.recovered_at.clear();
        self.flapping.clear();
        self.logged_verdicts.clear();
        self.logged_lead_move = None;
        self.logged_changes.clear();
        self.applied.clear();
        self.measured = measure::Measured::default();
        // What the last incident applied is its own to undo, from its own record.
        self.undo = None;
        self.verification = None;
        self.incident_episode = self.current_episode();
        let text = format!("{severity} opened: {title}");
        let kind = EntryKind::Opened {
            id,
            title,
            severity,
            source: self.settings.source.clone(),
            drill: self.settings.drill.clone(),
        };
        let entry = self.new_entry(kind, &actor, text);
        self.incident = Incident::from_timeline(std::slice::from_ref(&entry));
        let mut effects: Vec<Effect> = self.push(entry).into_iter().collect();
        if actor != SYSTEM_ACTOR {
            effects.extend(self.assign_role(Role::Commander, &actor, &actor));
        }
        effects
    }
}
