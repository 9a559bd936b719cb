//! Timeline entries: the incident's append-only record, one JSON object per line on disk.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Category;
use super::incident::{NamedTime, Role, Severity, Status};

/// The actor for what flightdeck does by itself.
pub const SYSTEM_ACTOR: &str = "flightdeck";

/// How an action ended; the entry text carries the read-back, the reason or the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The state read back agrees with what was asked.
    Succeeded,
    Failed,
    /// The backend accepted it, and nothing can read the state back (a webhook).
    Unverified,
    /// `--dry-run`: nothing was sent.
    DryRun,
}

/// What happened, with the fields a reader needs to filter and fold the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    Opened {
        id: String,
        title: String,
        severity: Severity,
        source: String,
        /// The scenario of a drill (`flightdeck drill`), kept from the screen until the end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        drill: Option<String>,
    },
    Detection {
        metric: String,
        state: String,
    },
    /// A metric moved the way a mitigation was expected to move it (the kill switch's fallback
    /// is rated worse): the mitigation's effect, not the incident's impact.
    MitigationEffect {
        metric: String,
        state: String,
        action: String,
    },
    Triage {
        step: String,
        verdict: String,
    },
    ChangeSeen {
        change: String,
        /// When the change happened, which is before it was logged when it led to the incident.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
        /// A prompt change's word diff, `[-removed-] {+added+}`, when both texts were known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        diff: Option<String>,
    },
    ActionRequested {
        action: String,
    },
    ActionConfirmed {
        action: String,
    },
    ActionCancelled {
        action: String,
    },
    /// The backend accepted the change; its answer is in the text.
    ActionApplied {
        action: String,
        backend: String,
    },
    ActionResult {
        action: String,
        outcome: Outcome,
    },
    Verification {
        action: String,
        recovered: bool,
    },
    Note,
    StatusChanged {
        from: Status,
        to: Status,
    },
    SeverityChanged {
        from: Severity,
        to: Severity,
    },
    /// Entry `seq` starred for the postmortem, or unstarred. On disk the field is `entry`: the
    /// line's own `seq` is flattened beside it, and a second `seq` would make the line unreadable.
    Starred {
        #[serde(rename = "entry")]
        seq: u64,
        starred: bool,
    },
    RoleAssigned {
        role: Role,
        person: String,
    },
    TitleChanged {
        from: String,
        to: String,
    },
    SummaryChanged {
        from: String,
        to: String,
    },
    RootCauseSet {
        from: Option<Category>,
        to: Category,
    },
    /// A named time set: by flightdeck (the onset estimate) or edited by hand.
    TimeSet {
        time: NamedTime,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    },
    /// Entry `seq`'s text corrected; the entry itself is never rewritten. `entry` on disk, as for
    /// `Starred`.
    EntryEdited {
        #[serde(rename = "entry")]
        seq: u64,
        from: String,
        to: String,
    },
}

impl EntryKind {
    /// A short label for the timeline pane and exports.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "opened",
            Self::Detection { .. } => "detect",
            Self::MitigationEffect { .. } => "effect",
            Self::Triage { .. } => "triage",
            Self::ChangeSeen { .. } => "change",
            Self::ActionRequested { .. } => "request",
            Self::ActionConfirmed { .. } => "confirm",
            Self::ActionCancelled { .. } => "cancel",
            Self::ActionApplied { .. } => "applied",
            Self::ActionResult { .. } => "result",
            Self::Verification { .. } => "verify",
            Self::Note => "note",
            Self::StatusChanged { .. } => "status",
            Self::SeverityChanged { .. } => "severity",
            Self::Starred { .. } => "star",
            Self::RoleAssigned { .. } => "role",
            Self::TitleChanged { .. } => "title",
            Self::SummaryChanged { .. } => "summary",
            Self::RootCauseSet { .. } => "cause",
            Self::TimeSet { .. } => "time",
            Self::EntryEdited { .. } => "edit",
        }
    }
}

/// One line of `timeline.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Position in the incident's timeline, from 1.
    pub seq: u64,
    /// When it happened in the observed system's time (the virtual clock in the demo).
    pub ts: DateTime<Utc>,
    /// When flightdeck wrote it (wall clock), for the audit trail.
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    #[serde(flatten)]
    pub kind: EntryKind,
    pub text: String,
    /// Key metrics at the time of the entry, by metric key (rates in 0..1, latency in ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// A note entry, the fixture of the store's and the writer's tests.
#[cfg(any(test, feature = "test-support"))]
pub fn note_fixture(seq: u64) -> TimelineEntry {
    TimelineEntry {
        seq,
        ts: "2026-03-14T14:17:00Z".parse().expect("a valid time"),
        recorded_at: "2026-11-28T12:00:00Z".parse().expect("a valid time"),
        actor: "oncall".into(),
        kind: EntryKind::Note,
        text: format!("note {seq}"),
        metrics: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_through_one_json_line() {
        let entry = TimelineEntry {
            seq: 3,
            ts: "2026-03-14T13:38:00Z".parse().unwrap(),
            recorded_at: "2026-11-28T12:00:00Z".parse().unwrap(),
            actor: "flightdeck".into(),
            kind: EntryKind::Detection {
                metric: "hallucination".into(),
                state: "critical".into(),
            },
            text: "Hallucination critical".into(),
            metrics: BTreeMap::from([("hallucination".into(), 0.21)]),
        };
        let line = serde_json::to_string(&entry).unwrap();
        assert!(line.contains(r#""kind":"detection""#));
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<TimelineEntry>(&line).unwrap(), entry);
    }

    #[test]
    fn entries_about_other_entries_read_back_beside_their_own_seq() {
        for kind in [
            EntryKind::Starred {
                seq: 5,
                starred: true,
            },
            EntryKind::EntryEdited {
                seq: 5,
                from: "a".into(),
                to: "b".into(),
            },
        ] {
            let entry = TimelineEntry {
                kind,
                ..note_fixture(9)
            };
            let line = serde_json::to_string(&entry).unwrap();
            assert!(line.contains(r#""entry":5"#), "{line}");
            assert_eq!(serde_json::from_str::<TimelineEntry>(&line).unwrap(), entry);
        }
    }
}
