//! A drill's scorecard, read from the incident's timeline: when the responder named the right
//! category and applied the right mitigation, what they tried before, and what the engine's
//! triage said at each of those moments.
//!
//! What counts: the category is the root cause set in the record (`RootCauseSet`); setting
//! another one first is a wrong call. The right mitigation is the true category's first one
//! (`Category::first_mitigation`), counted when its result is read back as succeeded. A
//! confirmed mitigation of another kind is a wrong one tried, whatever the backend did with it:
//! the call was the responder's. Undoing a mitigation is not trying one.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Answer;
use crate::model::{Category, EntryKind, Incident, MitigationKind, Outcome, Status, TimelineEntry};

/// What the triage had logged by a moment: each category's latest verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriageSaid {
    /// Verdicts by category, ordered as the triage walks them; categories with none logged are
    /// left out.
    pub verdicts: BTreeMap<Category, String>,
}

impl TriageSaid {
    /// The category the triage called likely, if it had.
    pub fn likely(&self) -> Option<Category> {
        self.verdicts
            .iter()
            .find(|(_, verdict)| *verdict == "likely")
            .map(|(category, _)| *category)
    }
}

impl fmt::Display for TriageSaid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.verdicts.is_empty() {
            return f.write_str("no verdict yet");
        }
        // Categories of one verdict together, in the order they were first named.
        let mut by_verdict: Vec<(&str, Vec<&str>)> = Vec::new();
        for (category, verdict) in &self.verdicts {
            match by_verdict.iter_mut().find(|(v, _)| v == verdict) {
                Some((_, categories)) => categories.push(category.key()),
                None => by_verdict.push((verdict, vec![category.key()])),
            }
        }
        let said: Vec<String> = by_verdict
            .iter()
            .map(|(verdict, categories)| format!("{} {verdict}", categories.join("/")))
            .collect();
        f.write_str(&said.join(", "))
    }
}

/// One call the responder made: a category set or a mitigation, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The category's key or the mitigation's name, e.g. `model`, `prompt rollback`.
    pub what: String,
    pub at: DateTime<Utc>,
    /// Seconds since the drill started.
    pub after_start_s: i64,
    /// Seconds since the incident was detected.
    pub after_detection_s: Option<i64>,
    pub triage: TriageSaid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    pub scenario: String,
    pub description: String,
    pub truth: Category,
    pub right_mitigation: MitigationKind,
    pub started_at: DateTime<Utc>,
    pub detected_at: Option<DateTime<Utc>>,
    /// The first time the record's root cause was set to the true category.
    pub correct_category: Option<Decision>,
    /// Root causes set to another category before the right one.
    pub wrong_categories: Vec<Decision>,
    /// The right mitigation, read back as succeeded.
    pub right_mitigation_applied: Option<Decision>,
    /// Mitigations of other kinds confirmed during the drill.
    pub wrong_mitigations: Vec<Decision>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// What the triage said when the drill ended.
    pub final_triage: TriageSaid,
}

impl Scorecard {
    /// Scores a drill's timeline against its answer; `started_at` is when the drill began.
    pub fn new(answer: &Answer, entries: &[TimelineEntry], started_at: DateTime<Utc>) -> Self {
        let incident = Incident::from_timeline(entries);
        let detected_at = incident.as_ref().and_then(|i| i.detected_at);
        let right = answer.right_mitigation();
        let mut card = Self {
            scenario: answer.scenario.clone(),
            description: answer.description.clone(),
            truth: answer.truth,
            right_mitigation: right,
            started_at,
            detected_at,
            correct_category: None,
            wrong_categories: Vec::new(),
            right_mitigation_applied: None,
            wrong_mitigations: Vec::new(),
            resolved_at: incident
                .as_ref()
                .filter(|i| i.status == Status::Resolved)
                .and_then(|i| i.resolved_at),
            final_triage: TriageSaid::default(),
        };
        let mut verdicts: BTreeMap<Category, String> = BTreeMap::new();
        for entry in entries {
            let decision = |what: String| Decision {
                what,
                at: entry.ts,
                after_start_s: (entry.ts - started_at).num_seconds(),
                after_detection_s: detected_at.map(|d| (entry.ts - d).num_seconds()),
                triage: TriageSaid {
                    verdicts: verdicts.clone(),
                },
            };
            match &entry.kind {
                EntryKind::Triage { step, verdict } => {
                    if let Ok(category) = step.parse::<Category>() {
                        verdicts.insert(category, verdict.clone());
                    }
                }
                EntryKind::RootCauseSet { to, .. } if card.correct_category.is_none() => {
                    let call = decision(to.key().to_string());
                    if *to == answer.truth {
                        card.correct_category = Some(call);
                    } else {
                        card.wrong_categories.push(call);
                    }
                }
                EntryKind::ActionConfirmed { action } => {
                    if let Some(kind) = kind_of(action)
                        && kind != right
                    {
                        card.wrong_mitigations.push(decision(action.clone()));
                    }
                }
                EntryKind::ActionResult {
                    action,
                    outcome: Outcome::Succeeded,
                } if card.right_mitigation_applied.is_none() && kind_of(action) == Some(right) => {
                    card.right_mitigation_applied = Some(decision(action.clone()));
                }
                _ => {}
            }
        }
        card.final_triage = TriageSaid { verdicts };
        card
    }

    /// The scorecard as lines of text: the overlay, the timeline's note and standard output
    /// all say the same.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("Drill scorecard: {}", self.scenario),
            self.description.clone(),
            format!(
                "Cause: {}; right mitigation: {}",
                self.truth.key(),
                self.right_mitigation
            ),
            match self.detected_at {
                Some(at) => format!(
                    "Detected {} after the start",
                    crate::model::elapsed::spoken(at - self.started_at)
                ),
                None => "Not detected: no incident was opened".to_string(),
            },
        ];
        for wrong in &self.wrong_categories {
            lines.push(format!("✗ root cause {}", self.told(wrong)));
        }
        lines.push(match &self.correct_category {
            Some(call) => format!("✓ root cause {}", self.told(call)),
            None => format!("✗ root cause never set to {}", self.truth.key()),
        });
        for wrong in &self.wrong_mitigations {
            lines.push(format!("✗ tried {}", self.told(wrong)));
        }
        lines.push(match &self.right_mitigation_applied {
            Some(done) => format!("✓ applied {}", self.told(done)),
            None => format!("✗ {} never applied", self.right_mitigation),
        });
        lines.push(format!(
            "Wrong calls: {} root cause, {} mitigation",
            self.wrong_categories.len(),
            self.wrong_mitigations.len()
        ));
        lines.push(match self.resolved_at {
            Some(at) => format!(
                "Resolved {} after the start",
                crate::model::elapsed::spoken(at - self.started_at)
            ),
            None => "Not resolved".to_string(),
        });
        lines.push(format!("Triage at the end: {}", self.final_triage));
        lines
    }

    /// A decision with its times and what the triage said then.
    fn told(&self, call: &Decision) -> String {
        let detection = call.after_detection_s.map_or_else(String::new, |s| {
            format!(
                ", {} after detection",
                crate::model::elapsed::spoken(chrono::Duration::seconds(s))
            )
        });
        format!(
            "{} at +{}{detection}; triage said: {}",
            call.what,
            crate::model::elapsed::spoken(chrono::Duration::seconds(call.after_start_s)),
            call.triage
        )
    }
}

/// The mitigation an entry's action names; `None` for an undo or anything else.
fn kind_of(action: &str) -> Option<MitigationKind> {
    MitigationKind::ALL
        .into_iter()
        .find(|k| k.to_string() == action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, timeline::note_fixture};

    fn at(minute: i64) -> DateTime<Utc> {
        "2026-03-14T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(minute)
    }

    fn entry(seq: u64, minute: i64, kind: EntryKind) -> TimelineEntry {
        TimelineEntry {
            seq,
            ts: at(minute),
            kind,
            ..note_fixture(seq)
        }
    }

    fn answer() -> Answer {
        Answer {
            scenario: "red-herring".into(),
            description: "An innocent prompt change before a silent model update.".into(),
            truth: Category::Model,
        }
    }

    fn drill() -> Vec<TimelineEntry> {
        let kinds = [
            (
                10,
                EntryKind::Opened {
                    id: "INC-1".into(),
                    title: "Schema".into(),
                    severity: Severity::Sev2,
                    source: "drill".into(),
                    drill: Some("red-herring".into()),
                },
            ),
            (
                11,
                EntryKind::Triage {
                    step: "prompt".into(),
                    verdict: "suspect".into(),
                },
            ),
            (
                12,
                EntryKind::RootCauseSet {
                    from: None,
                    to: Category::Prompt,
                },
            ),
            (
                13,
                EntryKind::ActionConfirmed {
                    action: "prompt rollback".into(),
                },
            ),
            (
                14,
                EntryKind::Triage {
                    step: "model".into(),
                    verdict: "likely".into(),
                },
            ),
            (
                15,
                EntryKind::RootCauseSet {
                    from: Some(Category::Prompt),
                    to: Category::Model,
                },
            ),
            (
                16,
                EntryKind::ActionConfirmed {
                    action: "model pin".into(),
                },
            ),
            (
                16,
                EntryKind::ActionResult {
                    action: "model pin".into(),
                    outcome: Outcome::Succeeded,
                },
            ),
            (
                17,
                EntryKind::ActionConfirmed {
                    action: "undo prompt rollback".into(),
                },
            ),
            (
                30,
                EntryKind::StatusChanged {
                    from: Status::Mitigated,
                    to: Status::Resolved,
                },
            ),
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, (minute, kind))| entry(i as u64 + 1, minute, kind))
            .collect()
    }

    #[test]
    fn the_trap_taken_first_counts_as_a_wrong_call_and_a_wrong_mitigation() {
        let card = Scorecard::new(&answer(), &drill(), at(0));
        assert_eq!(card.detected_at, Some(at(10)));
        let wrong = &card.wrong_categories;
        assert_eq!(wrong.len(), 1);
        assert_eq!((wrong[0].what.as_str(), wrong[0].at), ("prompt", at(12)));
        assert_eq!(wrong[0].triage.to_string(), "prompt suspect");
        let right = card.correct_category.as_ref().unwrap();
        assert_eq!(
            (right.after_start_s, right.after_detection_s),
            (15 * 60, Some(5 * 60))
        );
        assert_eq!(right.triage.likely(), Some(Category::Model));
        assert_eq!(card.wrong_mitigations.len(), 1, "the undo is not a try");
        assert_eq!(card.wrong_mitigations[0].what, "prompt rollback");
        assert_eq!(card.wrong_mitigations[0].triage.likely(), None);
        let pin = card.right_mitigation_applied.as_ref().unwrap();
        assert_eq!((pin.what.as_str(), pin.at), ("model pin", at(16)));
        assert_eq!(card.resolved_at, Some(at(30)));
        assert_eq!(card.final_triage.likely(), Some(Category::Model));
    }

    #[test]
    fn the_triage_reads_grouped_by_verdict_and_spans_count_hours() {
        let said = TriageSaid {
            verdicts: BTreeMap::from([
                (Category::Prompt, "ruled out".into()),
                (Category::Infrastructure, "ruled out".into()),
                (Category::Model, "likely".into()),
            ]),
        };
        assert_eq!(
            said.to_string(),
            "infrastructure/prompt ruled out, model likely"
        );
    }

    #[test]
    fn an_unfinished_drill_says_what_was_never_done() {
        let entries: Vec<_> = drill().into_iter().take(2).collect();
        let card = Scorecard::new(&answer(), &entries, at(0));
        let lines = card.lines().join("\n");
        assert!(lines.contains("✗ root cause never set to model"), "{lines}");
        assert!(lines.contains("✗ model pin never applied"), "{lines}");
        assert!(lines.contains("Not resolved"), "{lines}");
        let none = Scorecard::new(&answer(), &[], at(0));
        assert!(none.lines().join("\n").contains("Not detected"));
    }

    #[test]
    fn the_lines_name_each_call_with_its_times_and_the_triage() {
        let lines = Scorecard::new(&answer(), &drill(), at(0)).lines();
        assert_eq!(lines[0], "Drill scorecard: red-herring");
        assert!(lines.contains(
            &"✓ root cause model at +15 min, 5 min after detection; triage said: model likely, prompt suspect"
                .to_string()
        ), "{lines:#?}");
        assert!(lines.contains(&"Wrong calls: 1 root cause, 1 mitigation".to_string()));
    }
}
