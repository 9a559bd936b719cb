//! What the responders did and when: the named times and the intervals between them, the triage
//! as it was decided, the timeline, and each mitigation's chain from request to verification.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::text;
use crate::model::{EntryKind, Incident, NamedTime, Outcome, TimelineEntry};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeAt {
    pub time: NamedTime,
    pub at: Option<DateTime<Utc>>,
}

/// One of the response's intervals, measured from the impact start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// E.g. `time to detect`.
    pub name: String,
    pub until: NamedTime,
    pub seconds: Option<i64>,
    /// Humanised, e.g. `3 min 35 s`.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// Where the intervals start: the impact start, or the opening when none was recorded.
    pub measured_from: NamedTimeOrOpened,
    /// An interval that would be negative has no value.
    pub intervals: Vec<Interval>,
    /// Named times set in an order that cannot have happened.
    pub out_of_order: Vec<OutOfOrder>,
}

/// `first` must come no later than `then`, but was set after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfOrder {
    pub first: NamedTime,
    pub first_at: DateTime<Utc>,
    pub then: NamedTime,
    pub then_at: DateTime<Utc>,
}

/// The pairs out of order as one clause, each time named once: "the impact start (…) is after
/// detected (…) and mitigated (…)".
pub fn out_of_order_clause(wrong: &[OutOfOrder]) -> String {
    let mut clauses: Vec<(NamedTime, DateTime<Utc>, Vec<String>)> = Vec::new();
    for w in wrong {
        let then = format!("{} ({})", w.then, text::utc(w.then_at));
        match clauses.last_mut() {
            Some((first, _, thens)) if *first == w.first => thens.push(then),
            _ => clauses.push((w.first, w.first_at, vec![then])),
        }
    }
    clauses
        .into_iter()
        .map(|(first, at, thens)| {
            let thens = match thens.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("the {first} ({}) is after {thens}", text::utc(at))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The pairs of named times the intervals and the impact window rely on, whose order is wrong.
pub fn out_of_order(incident: &Incident) -> Vec<OutOfOrder> {
    use NamedTime::{Acknowledged, Detected, ImpactStart, Mitigated, Resolved};
    [
        (ImpactStart, Detected),
        (ImpactStart, Acknowledged),
        (ImpactStart, Mitigated),
        (ImpactStart, Resolved),
        (Mitigated, Resolved),
    ]
    .into_iter()
    .filter_map(|(first, then)| {
        let (first_at, then_at) = (incident.time(first)?, incident.time(then)?);
        (first_at > then_at).then_some(OutOfOrder {
            first,
            first_at,
            then,
            then_at,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedTimeOrOpened {
    ImpactStart,
    Opened,
}

pub fn times(incident: &Incident) -> Vec<TimeAt> {
    NamedTime::ORDER
        .into_iter()
        .map(|time| TimeAt {
            time,
            at: incident.time(time),
        })
        .collect()
}

pub fn response(incident: &Incident) -> Response {
    let (from, measured_from) = match incident.impact_start {
        Some(at) => (at, NamedTimeOrOpened::ImpactStart),
        None => (incident.opened_at, NamedTimeOrOpened::Opened),
    };
    let intervals = [
        ("time to detect", NamedTime::Detected),
        ("time to acknowledge", NamedTime::Acknowledged),
        ("time to mitigate", NamedTime::Mitigated),
        ("time to resolve", NamedTime::Resolved),
    ]
    .into_iter()
    .map(|(name, until)| {
        let span = incident
            .time(until)
            .map(|at| at - from)
            .filter(|span| *span >= chrono::Duration::zero());
        Interval {
            name: name.to_string(),
            until,
            seconds: span.map(|s| s.num_seconds()),
            text: span.map(crate::model::elapsed::spoken),
        }
    })
    .collect();
    Response {
        measured_from,
        intervals,
        out_of_order: out_of_order(incident),
    }
}

/// A triage step as decided: the category, the verdict and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageStep {
    pub at: DateTime<Utc>,
    pub category: String,
    pub verdict: String,
    pub evidence: String,
}

pub fn triage(incident: &Incident, entries: &[TimelineEntry]) -> Vec<TriageStep> {
    entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Triage { step, verdict } => Some(TriageStep {
                at: e.ts,
                category: step.clone(),
                verdict: verdict.clone(),
                evidence: incident.text_of(e).to_string(),
            }),
            _ => None,
        })
        .collect()
}

/// Which entries the timeline section shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    All,
    /// The entries that carry the story (opening, detections, triage verdicts, changes,
    /// mitigations applied, their outcomes and effects, status and severity, cause, named
    /// times, notes) and every starred one.
    Key,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineLine {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    /// The text as it reads now.
    pub text: String,
    /// The text as first logged, when it was edited since.
    pub edited_from: Option<String>,
    pub starred: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineView {
    pub selection: Selection,
    pub total: usize,
    pub omitted: usize,
    pub entries: Vec<TimelineLine>,
}

fn is_key(kind: &EntryKind) -> bool {
    matches!(
        kind,
        EntryKind::Opened { .. }
            | EntryKind::Detection { .. }
            | EntryKind::Triage { .. }
            | EntryKind::ChangeSeen { .. }
            | EntryKind::ActionApplied { .. }
            | EntryKind::ActionResult { .. }
            | EntryKind::Verification { .. }
            | EntryKind::MitigationEffect { .. }
            | EntryKind::StatusChanged { .. }
            | EntryKind::SeverityChanged { .. }
            | EntryKind::RootCauseSet { .. }
            | EntryKind::TimeSet { .. }
            | EntryKind::Note
    )
}

pub fn timeline(incident: &Incident, entries: &[TimelineEntry], all: bool) -> TimelineView {
    let mut stars = BTreeMap::new();
    for entry in entries {
        if let EntryKind::Starred { seq, starred } = entry.kind {
            stars.insert(seq, starred);
        }
    }
    let starred = |seq: u64| stars.get(&seq).copied().unwrap_or(false);
    let selection = if all { Selection::All } else { Selection::Key };
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| match selection {
            Selection::All => true,
            Selection::Key => is_key(&e.kind) || starred(e.seq),
        })
        .map(|e| TimelineLine {
            seq: e.seq,
            at: e.ts,
            actor: e.actor.clone(),
            kind: e.kind.label().to_string(),
            text: incident.text_of(e).to_string(),
            edited_from: incident
                .edited_texts
                .contains_key(&e.seq)
                .then(|| e.text.clone()),
            starred: starred(e.seq),
        })
        .collect();
    TimelineView {
        selection,
        total: entries.len(),
        omitted: entries.len() - shown.len(),
        entries: shown,
    }
}

/// One step of a mitigation's chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MitigationStep {
    pub at: DateTime<Utc>,
    /// requested, confirmed, cancelled, applied, result or verification.
    pub stage: String,
    pub actor: String,
    pub text: String,
}

/// A chain's outcome when the backend reported the action failed.
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mitigation {
    pub action: String,
    /// How it ended, in words.
    pub outcome: String,
    pub applied_at: Option<DateTime<Utc>>,
    pub recovered: Option<bool>,
    pub steps: Vec<MitigationStep>,
}

/// The action entries grouped per mitigation: a request opens a chain, and the steps that
/// follow for the same action join the latest chain of that action.
pub fn mitigations(incident: &Incident, entries: &[TimelineEntry]) -> Vec<Mitigation> {
    let mut chains: Vec<Mitigation> = Vec::new();
    for entry in entries {
        let (action, stage) = match &entry.kind {
            EntryKind::ActionRequested { action } => (action, "requested"),
            EntryKind::ActionConfirmed { action } => (action, "confirmed"),
            EntryKind::ActionCancelled { action } => (action, "cancelled"),
            EntryKind::ActionApplied { action, .. } => (action, "applied"),
            EntryKind::ActionResult { action, .. } => (action, "result"),
            EntryKind::Verification { action, .. } => (action, "verification"),
            EntryKind::MitigationEffect { action, .. } => (action, "effect"),
            _ => continue,
        };
        let open = chains
            .iter()
            .rposition(|c| &c.action == action)
            .filter(|_| stage != "requested");
        let index = open.unwrap_or_else(|| {
            chains.push(Mitigation {
                action: action.clone(),
                outcome: String::new(),
                applied_at: None,
                recovered: None,
                steps: Vec::new(),
            });
            chains.len() - 1
        });
        let chain = &mut chains[index];
        match &entry.kind {
            EntryKind::ActionApplied { .. } => chain.applied_at = Some(entry.ts),
            EntryKind::Verification { recovered, .. } => chain.recovered = Some(*recovered),
            EntryKind::ActionResult { outcome, .. } => chain.outcome = result_words(*outcome),
            EntryKind::ActionCancelled { .. } => chain.outcome = "cancelled".into(),
            _ => {}
        }
        chain.steps.push(MitigationStep {
            at: entry.ts,
            stage: stage.to_string(),
            actor: entry.actor.clone(),
            text: incident.text_of(entry).to_string(),
        });
    }
    for chain in &mut chains {
        chain.outcome = match chain.recovered {
            Some(true) => "verified: the metrics recovered".into(),
            Some(false) => "verified: the metrics did not recover".into(),
            None if !chain.outcome.is_empty() => std::mem::take(&mut chain.outcome),
            None if chain.applied_at.is_some() => "applied, no result recorded".into(),
            None => "requested, never applied".into(),
        };
    }
    chains
}

impl Mitigation {
    /// The backend reported it failed (and nothing verified it since).
    pub fn failed(&self) -> bool {
        self.outcome == FAILED
    }
}

fn result_words(outcome: Outcome) -> String {
    match outcome {
        Outcome::Succeeded => "applied and read back, not verified on the metrics",
        Outcome::Failed => FAILED,
        Outcome::Unverified => "sent; the backend's state could not be read back",
        Outcome::DryRun => "dry run: nothing was sent",
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn entry(seq: u64, kind: EntryKind) -> TimelineEntry {
        let ts = "2026-03-14T14:20:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::minutes(seq as i64);
        TimelineEntry {
            seq,
            ts,
            recorded_at: ts,
            actor: "oncall".into(),
            kind,
            text: format!("entry {seq}"),
            metrics: Default::default(),
        }
    }

    fn record() -> Vec<TimelineEntry> {
        let action = || "kill switch".to_string();
        vec![
            entry(
                1,
                EntryKind::Opened {
                    id: "INC-1".into(),
                    title: "t".into(),
                    severity: Severity::Sev2,
                    source: "test".into(),
                    drill: None,
                },
            ),
            entry(2, EntryKind::ActionRequested { action: action() }),
            entry(3, EntryKind::ActionCancelled { action: action() }),
            entry(4, EntryKind::ActionRequested { action: action() }),
            entry(
                5,
                EntryKind::ActionApplied {
                    action: action(),
                    backend: "unleash".into(),
                },
            ),
            entry(
                6,
                EntryKind::ActionResult {
                    action: action(),
                    outcome: Outcome::Failed,
                },
            ),
            entry(7, EntryKind::Note),
            entry(
                8,
                EntryKind::Starred {
                    seq: 2,
                    starred: true,
                },
            ),
            entry(
                9,
                EntryKind::Starred {
                    seq: 5,
                    starred: true,
                },
            ),
            entry(
                10,
                EntryKind::Starred {
                    seq: 5,
                    starred: false,
                },
            ),
        ]
    }

    #[test]
    fn each_request_opens_a_chain_that_its_later_steps_join() {
        let entries = record();
        let incident = Incident::from_timeline(&entries).unwrap();
        let chains = mitigations(&incident, &entries);
        let stages = |c: &Mitigation| c.steps.iter().map(|s| s.stage.clone()).collect::<Vec<_>>();
        assert_eq!(chains.len(), 2);
        assert_eq!(stages(&chains[0]), ["requested", "cancelled"]);
        assert_eq!(chains[0].outcome, "cancelled");
        assert_eq!(stages(&chains[1]), ["requested", "applied", "result"]);
        assert_eq!(chains[1].outcome, "failed");
    }

    #[test]
    fn the_timeline_shows_the_key_entries_and_what_is_starred_now_or_everything() {
        let entries = record();
        let incident = Incident::from_timeline(&entries).unwrap();
        let key = timeline(&incident, &entries, false);
        assert_eq!(key.selection, Selection::Key);
        let seqs: Vec<u64> = key.entries.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            [1, 2, 5, 6, 7],
            "the starred request beside the key entries; the unstarred request left out"
        );
        let starred: Vec<u64> = key
            .entries
            .iter()
            .filter(|e| e.starred)
            .map(|e| e.seq)
            .collect();
        assert_eq!(starred, [2]);
        assert_eq!((key.total, key.omitted), (10, 5));
        let all = timeline(&incident, &entries, true);
        assert_eq!(
            (all.selection, all.entries.len(), all.omitted),
            (Selection::All, 10, 0)
        );
        let unstarred: Vec<_> = entries
            .into_iter()
            .filter(|e| !matches!(e.kind, EntryKind::Starred { .. }))
            .collect();
        let key = timeline(&incident, &unstarred, false);
        assert_eq!(key.selection, Selection::Key);
        assert!(key.entries.iter().all(|e| e.kind != "request"));
    }
}
