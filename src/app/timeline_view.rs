//! Which timeline entries the pane shows: all, or one kind of them; and which are starred for
//! the postmortem. Stars are entries themselves, so the record says who starred what, and when.

use std::collections::HashSet;

use super::LoggedEntry;
use crate::model::{EntryKind, TimelineEntry};

/// What the timeline pane shows, cycled with `f`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimelineFilter {
    #[default]
    All,
    Starred,
    /// Requests, confirmations, backend answers, results and verifications.
    Actions,
    /// Detections and triage verdicts.
    Findings,
    Notes,
    Changes,
}

impl TimelineFilter {
    const ORDER: [TimelineFilter; 6] = [
        Self::All,
        Self::Starred,
        Self::Actions,
        Self::Findings,
        Self::Notes,
        Self::Changes,
    ];

    pub fn next(self) -> Self {
        let at = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(at + 1) % Self::ORDER.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Starred => "starred",
            Self::Actions => "actions",
            Self::Findings => "detections and triage",
            Self::Notes => "notes",
            Self::Changes => "changes",
        }
    }

    fn shows(self, kind: &EntryKind, starred: bool) -> bool {
        match self {
            Self::All => true,
            Self::Starred => starred,
            Self::Actions => matches!(
                kind,
                EntryKind::ActionRequested { .. }
                    | EntryKind::ActionConfirmed { .. }
                    | EntryKind::ActionCancelled { .. }
                    | EntryKind::ActionApplied { .. }
                    | EntryKind::ActionResult { .. }
                    | EntryKind::Verification { .. }
                    | EntryKind::MitigationEffect { .. }
            ),
            Self::Findings => {
                matches!(kind, EntryKind::Detection { .. } | EntryKind::Triage { .. })
            }
            Self::Notes => matches!(kind, EntryKind::Note),
            Self::Changes => matches!(kind, EntryKind::ChangeSeen { .. }),
        }
    }
}

/// The entries starred now: the last star entry for each one decides.
pub fn starred(timeline: &[LoggedEntry]) -> HashSet<u64> {
    let mut starred = HashSet::new();
    for logged in timeline {
        if let EntryKind::Starred { seq, starred: on } = logged.entry.kind {
            if on {
                starred.insert(seq);
            } else {
                starred.remove(&seq);
            }
        }
    }
    starred
}

/// The entries the pane shows under `filter`, newest first.
/// The entries of the kind the filter shows, newest first; `starred` is the starred set.
pub fn visible_starred<'a>(
    timeline: &'a [LoggedEntry],
    filter: TimelineFilter,
    starred: &HashSet<u64>,
) -> Vec<&'a LoggedEntry> {
    timeline
        .iter()
        .rev()
        .filter(|l| filter.shows(&l.entry.kind, starred.contains(&l.entry.seq)))
        .collect()
}

/// Whether an entry matches the `/` filter: its text, actor or kind contains the query, in any
/// case. An empty query matches every entry.
pub fn matches(text: &str, entry: &TimelineEntry, query: &str) -> bool {
    let query = query.trim().to_lowercase();
    query.is_empty()
        || [text, entry.actor.as_str(), entry.kind.label()]
            .iter()
            .any(|field| field.to_lowercase().contains(&query))
}
