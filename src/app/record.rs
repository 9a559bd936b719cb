//! The incident record beyond its lifecycle: the impact start the engine estimates until someone
//! sets it, and the edits to title, summary, root cause, roles, named times and entry texts.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::editing::{EditTarget, Editor, RecordField};
use super::{App, Effect, Level, Overlay, SYSTEM_ACTOR};
use crate::model::{Category, EntryKind, Incident, NamedTime, Role, Status, Zone};

/// The estimate moves the record only by at least this much, so it does not churn.
fn estimate_step() -> Duration {
    Duration::minutes(1)
}

impl App {
    /// Whether someone set the impact start by hand: then the estimate no longer moves it.
    fn impact_start_set_by_hand(&self) -> bool {
        self.timeline.iter().any(|l| {
            matches!(
                l.entry.kind,
                EntryKind::TimeSet {
                    time: NamedTime::ImpactStart,
                    ..
                }
            ) && l.entry.actor != SYSTEM_ACTOR
        })
    }

    /// Logs the engine's onset estimate as the impact start, and each later estimate that moves
    /// it earlier, until the incident is mitigated or someone sets it.
    pub(super) fn estimate_impact_start(&mut self) -> Option<Effect> {
        let incident = self.incident.as_ref()?;
        if incident.status >= Status::Mitigated || self.impact_start_set_by_hand() {
            return None;
        }
        let episode = self.assessment.as_ref()?.episode.as_ref()?;
        // Only the alarm the estimate started from: a later alarm in a long incident has its own
        // onset, after the impact began.
        if self
            .measured
            .impact_episode
            .is_some_and(|first| first != episode.first_alarm)
        {
            return None;
        }
        let first_alarm = episode.first_alarm;
        // Never after the detection, and never inside an earlier incident's window.
        let detected = incident.detected_at.unwrap_or(incident.opened_at);
        let estimate = episode.onset?.min(detected);
        let earlier_end = self.earlier_incident_end.filter(|end| *end > estimate);
        let onset = earlier_end.unwrap_or(estimate);
        // The record keeps whole seconds, as every time it shows.
        let onset = onset.duration_trunc(Duration::seconds(1)).ok()?;
        let from = incident.impact_start;
        // Only earlier: a later estimate comes from later alarms (a mitigation's own effects, a
        // second failure), and the users hurt before it were still hurt.
        if from.is_some_and(|known| known - onset < estimate_step()) {
            return None;
        }
        self.measured.impact_episode = Some(first_alarm);
        let text = match (from, episode.lead) {
            (Some(was), _) if earlier_end.is_some() => format!(
                "impact start {} (was {}): the onset estimate is earlier still, but no impact start goes back into the incident before, which ended then",
                stamp(onset),
                stamp(was)
            ),
            (Some(was), Some(lead)) => format!(
                "impact start {} (was {}): {}'s change point dates the onset earlier",
                stamp(onset),
                stamp(was),
                lead.metric.label()
            ),
            (Some(was), None) => format!(
                "impact start {} (was {}): the onset estimate moved earlier",
                stamp(onset),
                stamp(was)
            ),
            (None, _) if earlier_end.is_some() => format!(
                "impact start {}: when the incident before ended; the onset estimate is earlier still",
                stamp(onset)
            ),
            (None, _) => format!("impact start {}: the engine's onset estimate", stamp(onset)),
        };
        self.log(
            EntryKind::TimeSet {
                time: NamedTime::ImpactStart,
                from,
                to: onset,
            },
            SYSTEM_ACTOR,
            text,
        )
    }
}

impl App {
    /// Opens the editor on a record field, prefilled with its value, or with what it would
    /// most likely be: the triage's conclusion, the user's own name, the current time.
    pub(super) fn edit_field(&mut self, field: RecordField) {
        let Some(incident) = &self.incident else {
            return;
        };
        let zone = self.zone();
        let initial = match field {
            RecordField::Title => incident.title.clone(),
            RecordField::Summary => incident.summary.clone(),
            RecordField::RootCause => incident
                .root_cause
                .or_else(|| {
                    let triage = self.triage.as_ref().filter(|_| !self.verdicts_withheld());
                    triage.and_then(|t| t.conclusion())
                })
                .map(|c| c.key().to_string())
                .unwrap_or_default(),
            RecordField::Role(role) => incident
                .roles
                .get(&role)
                .map_or_else(|| self.settings.actor.clone(), |h| h.person.clone()),
            RecordField::Time(time) => zone.editable(
                incident
                    .time(time)
                    .unwrap_or_else(|| self.now.unwrap_or(self.wall)),
            ),
        };
        self.overlay = Some(Overlay::Editor(Editor::new(
            EditTarget::Field(field),
            initial,
        )));
    }

    /// What the open editor submitted: logged as the entry its target calls for. A refused value
    /// keeps the editor open with the reason.
    pub(super) fn text_submitted(&mut self, text: String) -> Vec<Effect> {
        let Some(Overlay::Editor(editor)) = self.overlay.clone() else {
            return Vec::new();
        };
        let outcome = match editor.target {
            EditTarget::Note => self.note(text.trim()),
            EditTarget::Field(field) => self.set_field(field, text.trim()),
            EditTarget::Entry(seq) => self.edit_entry(seq, text.trim()),
            EditTarget::Filter => {
                self.timeline_query = text.trim().to_string();
                Ok(Vec::new())
            }
            EditTarget::Declaration => self.declare(text.trim()),
        };
        match outcome {
            Ok(effects) => {
                // Back to where the editor was opened from.
                self.overlay = match editor.target {
                    EditTarget::Field(field) => Some(Overlay::Record {
                        selected: RecordField::ALL
                            .iter()
                            .position(|f| *f == field)
                            .unwrap_or(0),
                    }),
                    EditTarget::Entry(seq) => Some(Overlay::Entry(seq)),
                    EditTarget::Note | EditTarget::Filter | EditTarget::Declaration => None,
                };
                effects
            }
            Err(reason) => {
                self.overlay = Some(Overlay::Editor(Editor {
                    error: Some(reason),
                    ..editor
                }));
                Vec::new()
            }
        }
    }

    fn note(&mut self, text: &str) -> Result<Vec<Effect>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let actor = self.settings.actor.clone();
        Ok(self
            .log(EntryKind::Note, &actor, text.to_string())
            .into_iter()
            .collect())
    }

    fn set_field(&mut self, field: RecordField, text: &str) -> Result<Vec<Effect>, String> {
        let Some(incident) = self.incident.clone() else {
            return Err("no incident open".into());
        };
        let actor = self.settings.actor.clone();
        let zone = self.zone();
        let (kind, said) = match field {
            RecordField::Title => {
                if text.is_empty() {
                    return Err("a title cannot be empty".into());
                }
                if text == incident.title {
                    return Ok(Vec::new());
                }
                let said = format!("title: {text:?} (was {:?})", incident.title);
                let kind = EntryKind::TitleChanged {
                    from: incident.title,
                    to: text.to_string(),
                };
                (kind, said)
            }
            RecordField::Summary => {
                if text == incident.summary {
                    return Ok(Vec::new());
                }
                let said = format!("summary: {text}");
                let kind = EntryKind::SummaryChanged {
                    from: incident.summary,
                    to: text.to_string(),
                };
                (kind, said)
            }
            RecordField::RootCause => {
                let to: Category = text.parse()?;
                if incident.root_cause == Some(to) {
                    return Ok(Vec::new());
                }
                let was = incident
                    .root_cause
                    .map(|c| format!(" (was {c})"))
                    .unwrap_or_default();
                let kind = EntryKind::RootCauseSet {
                    from: incident.root_cause,
                    to,
                };
                (kind, format!("root cause category: {to}{was}"))
            }
            RecordField::Role(role) => {
                if text.is_empty() {
                    return Err(format!("name who is {role}"));
                }
                if incident.roles.get(&role).is_some_and(|h| h.person == text) {
                    return Ok(Vec::new());
                }
                return Ok(self.assign_role(role, text, &actor).into_iter().collect());
            }
            RecordField::Time(time) => {
                let reference = incident.time(time).or(self.now).unwrap_or(self.wall);
                let to = zone.parse(text, reference)?;
                if self.now.is_some_and(|now| to > now) {
                    return Err(format!(
                        "{} is in the future: it is {} now",
                        zone.stamp(to),
                        zone.stamp(self.now.unwrap_or(self.wall))
                    ));
                }
                let from = incident.time(time);
                if from == Some(to) {
                    return Ok(Vec::new());
                }
                out_of_order(&incident, time, to).map_or(Ok(()), Err)?;
                let was = from
                    .map(|f| format!(" (was {})", Zone::utc().stamp(f)))
                    .unwrap_or_default();
                let said = format!("{time} set to {}{was}", Zone::utc().stamp(to));
                (EntryKind::TimeSet { time, from, to }, said)
            }
        };
        Ok(self.log(kind, &actor, said).into_iter().collect())
    }

    /// Gives a role to someone; the entry says who held it before.
    pub(super) fn assign_role(&mut self, role: Role, person: &str, actor: &str) -> Option<Effect> {
        let was = self
            .incident
            .as_ref()?
            .roles
            .get(&role)
            .map(|h| format!(" (was {})", h.person))
            .unwrap_or_default();
        self.log(
            EntryKind::RoleAssigned {
                role,
                person: person.to_string(),
            },
            actor,
            format!("{person} is {role}{was}"),
        )
    }

    /// Corrects an entry's text; the entry stays as it was logged and the edit keeps the history.
    fn edit_entry(&mut self, seq: u64, text: &str) -> Result<Vec<Effect>, String> {
        if text.is_empty() {
            return Err("an entry's text cannot be empty".into());
        }
        let from = self
            .current_text(seq)
            .ok_or_else(|| format!("no entry {seq}"))?;
        if from == text {
            return Ok(Vec::new());
        }
        let actor = self.settings.actor.clone();
        self.message = Some((
            Level::Info,
            format!("entry {seq} edited; its history is kept"),
        ));
        Ok(self
            .log(
                EntryKind::EntryEdited {
                    seq,
                    from: from.clone(),
                    to: text.to_string(),
                },
                &actor,
                format!("edited entry {seq}: {text} (was: {from})"),
            )
            .into_iter()
            .collect())
    }
}

/// Why setting `time` to `to` would put the named times out of their order (impact start,
/// detected, acknowledged, mitigated, resolved), which would make the response times negative.
fn out_of_order(incident: &Incident, time: NamedTime, to: DateTime<Utc>) -> Option<String> {
    let zone = Zone::utc();
    NamedTime::ORDER.iter().find_map(|other| {
        let at = incident.time(*other)?;
        let conflict = (*other < time && at > to) || (*other > time && at < to);
        conflict.then(|| {
            let relation = if *other < time { "before" } else { "after" };
            format!(
                "{time} at {} would be {relation} {other} at {}: change {other} first",
                zone.stamp(to),
                zone.stamp(at)
            )
        })
    })
}

fn stamp(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
