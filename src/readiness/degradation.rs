//! "At least one degradation mode has been tested": a recorded incident or drill in the data dir
//! where the kill switch was applied, read back by its backend, and the metrics recovered.

use std::path::Path;

use super::facts::Exercise;
use super::{Findings, Item};
use crate::model::{EntryKind, Incident, MitigationKind, Outcome, TimelineEntry};

pub const ID: &str = "degradation_tested";
const TITLE: &str = "A degradation mode has been tested: the kill switch exercised and verified";

const DRILL: &str = "Run a game day (`flightdeck drill`, or an incident on staging) in which the \
                     kill switch is pressed (k), read back, and the metrics seen to recover.";

/// What an incident's timeline says about its kill switch.
pub fn exercise(incident: &str, entries: &[TimelineEntry]) -> Exercise {
    let action = MitigationKind::KillSwitch.to_string();
    let (drill, opened) = Incident::from_timeline(entries).map_or((None, String::new()), |i| {
        (
            i.drill,
            i.opened_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    });
    Exercise {
        incident: incident.to_string(),
        drill,
        opened,
        kill_switch_read_back: entries.iter().any(|entry| {
            matches!(&entry.kind, EntryKind::ActionResult { action: a, outcome: Outcome::Succeeded } if *a == action)
        }),
        recovered: entries.iter().any(|entry| {
            matches!(&entry.kind, EntryKind::Verification { action: a, recovered: true } if *a == action)
        }),
    }
}

fn named(exercise: &Exercise) -> String {
    match &exercise.drill {
        Some(scenario) => format!(
            "drill {} ({scenario}, {})",
            exercise.incident, exercise.opened
        ),
        None => format!("incident {} ({})", exercise.incident, exercise.opened),
    }
}

pub fn item(exercises: &Result<Vec<Exercise>, String>, data_dir: &Path) -> Item {
    let mut findings = Findings::default();
    match exercises {
        Err(reason) => findings.unknown(
            format!(
                "the incidents in {} could not be read: {reason}",
                data_dir.display()
            ),
            "Point --data-dir (FLIGHTDECK_DATA_DIR) at the team's incident records.",
        ),
        Ok(exercises) => {
            let verified: Vec<&Exercise> = exercises
                .iter()
                .filter(|e| e.kill_switch_read_back && e.recovered)
                .collect();
            let unverified: Vec<&Exercise> = exercises
                .iter()
                .filter(|e| e.kill_switch_read_back && !e.recovered)
                .collect();
            if let Some(last) = verified.last() {
                findings.pass(format!(
                    "{}: the kill switch was applied, read back, and the metrics recovered \
                     ({} of {} recorded incidents and drills did so)",
                    named(last),
                    verified.len(),
                    exercises.len()
                ));
            } else if let Some(last) = unverified.last() {
                findings.fail(
                    format!(
                        "{}: the kill switch was applied and read back, but no verification saw \
                         the metrics recover",
                        named(last)
                    ),
                    DRILL,
                );
            } else {
                findings.fail(
                    format!(
                        "none of the {} incidents and drills in {} exercised the kill switch",
                        exercises.len(),
                        data_dir.display()
                    ),
                    DRILL,
                );
            }
        }
    }
    findings.item(ID, TITLE)
}
