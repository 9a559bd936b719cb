//! The incident's timeline entries: made, logged, marked on disk, and read back as shown.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{App, Effect, VERDICT_WITHHELD};
use crate::engine::metrics::MetricId;
use crate::model::{EntryKind, TimelineEntry};
use crate::redact;

/// Whether an entry is on disk yet: the screen says "logged" only once it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persisted {
    Pending,
    OnDisk,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEntry {
    pub entry: TimelineEntry,
    pub persisted: Persisted,
}

impl App {
    pub(super) fn set_persisted(&mut self, incident_id: &str, seq: u64, persisted: Persisted) {
        if self.incident.as_ref().is_none_or(|i| i.id != incident_id) {
            return;
        }
        if let Some(logged) = self.timeline.iter_mut().find(|l| l.entry.seq == seq) {
            logged.persisted = persisted;
        }
    }

    /// An entry's text as it reads now, after any edits; a triage verdict withheld in a drill.
    pub fn entry_text<'a>(&'a self, entry: &'a TimelineEntry) -> Cow<'a, str> {
        let text = self.edited_text(entry);
        match &entry.kind {
            EntryKind::Triage { verdict, .. } if self.verdicts_withheld() => {
                Cow::Owned(text.replacen(
                    &format!(": {verdict} ("),
                    &format!(": {VERDICT_WITHHELD} ("),
                    1,
                ))
            }
            _ => Cow::Borrowed(text),
        }
    }

    pub(super) fn edited_text<'a>(&'a self, entry: &'a TimelineEntry) -> &'a str {
        match &self.incident {
            Some(incident) => incident.text_of(entry),
            None => &entry.text,
        }
    }

    /// In a drill the triage's verdicts wait until the trainee commits to a root cause: its
    /// evidence shows, its conclusion does not give the answer away.
    pub fn verdicts_withheld(&self) -> bool {
        self.settings.drill.is_some()
            && self.scorecard.is_none()
            && self
                .incident
                .as_ref()
                .is_none_or(|i| i.root_cause.is_none())
    }

    pub(super) fn current_text(&self, seq: u64) -> Option<String> {
        let logged = self.timeline.iter().find(|l| l.entry.seq == seq)?;
        Some(self.edited_text(&logged.entry).to_string())
    }

    /// Appends an entry to the open incident's timeline; it shows as pending until on disk.
    pub(super) fn log(&mut self, kind: EntryKind, actor: &str, text: String) -> Option<Effect> {
        self.incident.as_ref()?;
        let entry = self.new_entry(kind, actor, text);
        if let Some(incident) = &mut self.incident {
            incident.apply(&entry);
        }
        self.push(entry)
    }

    /// When the engine's current alarm episode began, if one is under way.
    pub(super) fn current_episode(&self) -> Option<DateTime<Utc>> {
        self.assessment
            .as_ref()
            .and_then(|a| a.episode.as_ref())
            .map(|e| e.first_alarm)
    }

    pub(super) fn new_entry(&self, kind: EntryKind, actor: &str, text: String) -> TimelineEntry {
        // The one edge every entry passes: nothing that reaches the timeline carries a credential.
        let text = redact::credentials(&text);
        TimelineEntry {
            seq: self.timeline.last().map_or(1, |l| l.entry.seq + 1),
            ts: self.now.unwrap_or(self.wall),
            recorded_at: self.wall,
            actor: actor.to_string(),
            kind,
            text,
            metrics: self.metric_snapshot(),
        }
    }

    pub(super) fn push(&mut self, entry: TimelineEntry) -> Option<Effect> {
        let incident_id = self.incident.as_ref()?.id.clone();
        self.timeline.push(LoggedEntry {
            entry: entry.clone(),
            persisted: Persisted::Pending,
        });
        if self.entry_selected > 0 {
            self.entry_selected += 1;
        }
        Some(Effect::Persist {
            incident_id,
            entry: Box::new(entry),
        })
    }

    pub(super) fn metric_snapshot(&self) -> std::collections::BTreeMap<String, f64> {
        const KEY_METRICS: [MetricId; 6] = [
            MetricId::Hallucination,
            MetricId::Refusal,
            MetricId::Schema,
            MetricId::Feedback,
            MetricId::Errors,
            MetricId::LatencyP95,
        ];
        let Some(assessment) = &self.assessment else {
            return Default::default();
        };
        KEY_METRICS
            .iter()
            .filter_map(|id| {
                let value = assessment.reading(*id)?.now?;
                Some((id.key().to_string(), (value * 10_000.0).round() / 10_000.0))
            })
            .collect()
    }
}
