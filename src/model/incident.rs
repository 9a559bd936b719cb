//! An incident: its identity, severity and lifecycle status, folded from its timeline.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::timeline::{EntryKind, TimelineEntry};

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

/// What the timeline says about an incident, rebuilt by folding its entries in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    /// Where the telemetry came from, e.g. `demo:prompt-regression seed 42`.
    pub source: String,
    pub opened_at: DateTime<Utc>,
    pub detected_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
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
        } = &first.kind
        else {
            return None;
        };
        let mut incident = Self {
            id: id.clone(),
            title: title.clone(),
            severity: *severity,
            status: Status::Detected,
            source: source.clone(),
            opened_at: first.ts,
            detected_at: Some(first.ts),
            mitigated_at: None,
            resolved_at: None,
        };
        for entry in rest {
            incident.apply(entry);
        }
        Some(incident)
    }

    /// Applies one entry's effect on the incident's fields.
    pub fn apply(&mut self, entry: &TimelineEntry) {
        match &entry.kind {
            EntryKind::StatusChanged { to, .. } => {
                self.status = *to;
                match to {
                    Status::Mitigated => self.mitigated_at = Some(entry.ts),
                    Status::Resolved => self.resolved_at = Some(entry.ts),
                    _ => {}
                }
            }
            EntryKind::SeverityChanged { to, .. } => self.severity = *to,
            _ => {}
        }
    }
}
