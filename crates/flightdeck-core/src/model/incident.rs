//! An incident: its identity, severity, lifecycle status, roles and named times, folded from its
//! timeline.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Category;
use super::timeline::{EntryKind, SYSTEM_ACTOR, TimelineEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    #[serde(rename = "SEV1")]
    Sev1,
    #[serde(rename = "SEV2")]
    Sev2,
    #[serde(rename = "SEV3")]
    Sev3,
    #[serde(rename = "SEV4")]
    Sev4,
}

impl Severity {
    const ORDER: [Severity; 4] = [Self::Sev1, Self::Sev2, Self::Sev3, Self::Sev4];

    /// `by` steps toward SEV4 (negative: toward SEV1), or None past either end.
    pub fn step(self, by: i8) -> Option<Self> {
        let at = Self::ORDER.iter().position(|s| *s == self)? as i8;
        Self::ORDER.get(usize::try_from(at + by).ok()?).copied()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sev1 => "SEV1",
            Self::Sev2 => "SEV2",
            Self::Sev3 => "SEV3",
            Self::Sev4 => "SEV4",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Detected,
    Investigating,
    Identified,
    Mitigated,
    Resolved,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Detected => "DETECTED",
            Self::Investigating => "INVESTIGATING",
            Self::Identified => "IDENTIFIED",
            Self::Mitigated => "MITIGATED",
            Self::Resolved => "RESOLVED",
        })
    }
}

/// How `flightdeck replay` names its source, `replay FILE`: what marks a replayed incident.
pub const REPLAY_SOURCE: &str = "replay ";

/// Who does what during the incident, as incident.io and PagerDuty name the roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the response and decides.
    Commander,
    /// Hands on the systems: applies the mitigations.
    Operations,
    /// Keeps stakeholders and users informed.
    Communications,
}

impl Role {
    pub const ORDER: [Role; 3] = [Self::Commander, Self::Operations, Self::Communications];
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Commander => "incident commander",
            Self::Operations => "operations",
            Self::Communications => "communications",
        })
    }
}

/// Who holds a role, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleHolder {
    pub person: String,
    pub since: DateTime<Utc>,
}

/// The moments a postmortem measures the response by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedTime {
    /// When users started to be hurt: the engine's onset estimate until someone edits it.
    ImpactStart,
    Detected,
    Acknowledged,
    Mitigated,
    Resolved,
}

impl NamedTime {
    pub const ORDER: [NamedTime; 5] = [
        Self::ImpactStart,
        Self::Detected,
        Self::Acknowledged,
        Self::Mitigated,
        Self::Resolved,
    ];
}

impl fmt::Display for NamedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ImpactStart => "impact start",
            Self::Detected => "detected",
            Self::Acknowledged => "acknowledged",
            Self::Mitigated => "mitigated",
            Self::Resolved => "resolved",
        })
    }
}

/// What the timeline says about an incident, rebuilt by folding its entries in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    /// What happened, in the responders' words; empty until someone writes it.
    pub summary: String,
    pub severity: Severity,
    pub status: Status,
    /// The category the responders committed to; the postmortem requires one.
    pub root_cause: Option<Category>,
    pub roles: BTreeMap<Role, RoleHolder>,
    /// Where the telemetry came from, e.g. `demo:prompt-regression seed 42`.
    pub source: String,
    /// A drill's scenario: the incident was a game day, not production.
    pub drill: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub impact_start: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Texts of entries edited after they were logged, by sequence number: the latest wins and
    /// the entries that edited them keep the history.
    pub edited_texts: BTreeMap<u64, String>,
}

impl Incident {
    /// Rebuilds an incident from its timeline; `None` when the first entry does not open one.
    pub fn from_timeline(entries: &[TimelineEntry]) -> Option<Self> {
        let (first, rest) = entries.split_first()?;
        let EntryKind::Opened {
            id,
            title,
            severity,
            source,
            drill,
        } = &first.kind
        else {
            return None;
        };
        let mut incident = Self {
            id: id.clone(),
            title: title.clone(),
            summary: String::new(),
            severity: *severity,
            status: Status::Detected,
            root_cause: None,
            roles: BTreeMap::new(),
            source: source.clone(),
            drill: drill.clone(),
            opened_at: first.ts,
            impact_start: None,
            detected_at: Some(first.ts),
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            edited_texts: BTreeMap::new(),
        };
        for entry in rest {
            incident.apply(entry);
        }
        Some(incident)
    }

    /// What the incident rehearsed instead of production, if it did: `drill` (a game day) or
    /// `replay` (a recording played back). Neither is the latest incident to export.
    pub fn rehearsal(&self) -> Option<&'static str> {
        if self.drill.is_some() {
            Some("drill")
        } else if self.source.starts_with(REPLAY_SOURCE) {
            Some("replay")
        } else {
            None
        }
    }

    /// A named time as the record has it now.
    pub fn time(&self, which: NamedTime) -> Option<DateTime<Utc>> {
        match which {
            NamedTime::ImpactStart => self.impact_start,
            NamedTime::Detected => self.detected_at,
            NamedTime::Acknowledged => self.acknowledged_at,
            NamedTime::Mitigated => self.mitigated_at,
            NamedTime::Resolved => self.resolved_at,
        }
    }

    fn time_mut(&mut self, which: NamedTime) -> &mut Option<DateTime<Utc>> {
        match which {
            NamedTime::ImpactStart => &mut self.impact_start,
            NamedTime::Detected => &mut self.detected_at,
            NamedTime::Acknowledged => &mut self.acknowledged_at,
            NamedTime::Mitigated => &mut self.mitigated_at,
            NamedTime::Resolved => &mut self.resolved_at,
        }
    }

    /// Time to detect: from the impact's start to detection.
    pub fn time_to_detect(&self) -> Option<chrono::Duration> {
        Some(self.detected_at? - self.impact_start?)
    }

    /// Time to mitigate: from the impact's start to the bleeding stopping.
    pub fn time_to_mitigate(&self) -> Option<chrono::Duration> {
        Some(self.mitigated_at? - self.impact_start?)
    }

    /// An entry's text as it reads now, after any edits.
    pub fn text_of<'a>(&'a self, entry: &'a TimelineEntry) -> &'a str {
        self.edited_texts
            .get(&entry.seq)
            .map_or(entry.text.as_str(), String::as_str)
    }

    /// Applies one entry's effect on the incident's fields.
    pub fn apply(&mut self, entry: &TimelineEntry) {
        match &entry.kind {
            EntryKind::StatusChanged { to, .. } => {
                self.status = *to;
                // A time someone already set by hand stands: the status only fills a blank.
                let reached = match to {
                    Status::Mitigated => Some(NamedTime::Mitigated),
                    Status::Resolved => Some(NamedTime::Resolved),
                    Status::Detected | Status::Investigating | Status::Identified => None,
                };
                if let Some(which) = reached {
                    self.time_mut(which).get_or_insert(entry.ts);
                }
                // A person moving the incident past Detected acknowledges it, even skipping a step.
                if *to > Status::Detected && entry.actor != SYSTEM_ACTOR {
                    self.acknowledged_at.get_or_insert(entry.ts);
                }
            }
            // A person confirming a mitigation has taken the incident on: that acknowledges it,
            // so the mitigation it leads to can never come before the acknowledgement.
            EntryKind::ActionConfirmed { .. } if entry.actor != SYSTEM_ACTOR => {
                self.acknowledged_at.get_or_insert(entry.ts);
            }
            EntryKind::SeverityChanged { to, .. } => self.severity = *to,
            EntryKind::RoleAssigned { role, person } => {
                self.roles.insert(
                    *role,
                    RoleHolder {
                        person: person.clone(),
                        since: entry.ts,
                    },
                );
            }
            EntryKind::TitleChanged { to, .. } => self.title = to.clone(),
            EntryKind::SummaryChanged { to, .. } => self.summary = to.clone(),
            EntryKind::RootCauseSet { to, .. } => self.root_cause = Some(*to),
            EntryKind::TimeSet { time, to, .. } => *self.time_mut(*time) = Some(*to),
            EntryKind::EntryEdited { seq, to, .. } => {
                self.edited_texts.insert(*seq, to.clone());
            }
            _ => {}
        }
    }
}
