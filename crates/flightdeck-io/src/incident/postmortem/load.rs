//! Reads what a postmortem is built from: an incident's timeline, minute samples and failing
//! calls. A line that does not parse, or a torn one moved aside, is kept as a problem to report,
//! never fatal.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::incident::store::{self, BadLine, StoreError};
use crate::jsonl;
use crate::model::{FailingCall, Incident, MinuteSample, TimelineEntry};

/// An incident's record as read back from its folder.
#[derive(Debug, Clone)]
pub struct Record {
    pub incident: Incident,
    pub entries: Vec<TimelineEntry>,
    /// One per minute, in order: a resumed incident's repeated minute keeps its last line.
    pub samples: Vec<MinuteSample>,
    pub examples: Vec<FailingCall>,
    pub problems: Vec<RecordProblem>,
}

/// A line of one of the record's files that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordProblem {
    /// The file's name in the incident's folder, e.g. `samples.jsonl`.
    pub file: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("incident {id}: {path} does not start with an entry that opens the incident")]
    NotOpened { id: String, path: String },
}

/// Reads the three files of incident `id`; the measurement files may be missing (older records).
pub fn load(data_dir: &Path, id: &str) -> Result<Record, LoadError> {
    let timeline = store::load(data_dir, id)?;
    let samples = store::load_lines::<MinuteSample>(data_dir, id, store::SAMPLES_FILE)?;
    let examples = store::load_lines::<FailingCall>(data_dir, id, store::EXAMPLES_FILE)?;
    let incident =
        Incident::from_timeline(&timeline.entries).ok_or_else(|| LoadError::NotOpened {
            id: id.to_string(),
            path: store::incident_dir(data_dir, id)
                .join(store::TIMELINE_FILE)
                .display()
                .to_string(),
        })?;
    let mut problems: Vec<RecordProblem> = [
        (store::TIMELINE_FILE, &timeline.bad_lines),
        (store::SAMPLES_FILE, &samples.bad_lines),
        (store::EXAMPLES_FILE, &examples.bad_lines),
    ]
    .into_iter()
    .flat_map(|(file, lines)| lines.iter().map(move |bad| problem(file, bad)))
    .collect();
    // Torn lines moved aside when a file was reopened are gone from it, but not unreported.
    for file in [
        store::TIMELINE_FILE,
        store::SAMPLES_FILE,
        store::EXAMPLES_FILE,
    ] {
        let side_file = format!("{file}{}", jsonl::TORN_SUFFIX);
        for torn in store::torn_lines(data_dir, id, file)? {
            problems.push(problem(&side_file, &torn));
        }
    }
    Ok(Record {
        incident,
        entries: timeline.entries,
        samples: one_per_minute(samples.items),
        examples: examples.items,
        problems,
    })
}

fn problem(file: &str, bad: &BadLine) -> RecordProblem {
    RecordProblem {
        file: file.to_string(),
        line: bad.line,
        reason: bad.reason.clone(),
    }
}

/// Samples in minute order, the last line of a repeated minute winning.
pub fn one_per_minute(samples: Vec<MinuteSample>) -> Vec<MinuteSample> {
    let by_minute: BTreeMap<_, _> = samples.into_iter().map(|s| (s.minute, s)).collect();
    by_minute.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(minute: &str, calls: u64) -> MinuteSample {
        MinuteSample {
            minute: minute.parse().unwrap(),
            calls,
            stride: 1,
            metrics: Default::default(),
        }
    }

    #[test]
    fn a_repeated_minute_keeps_its_last_line_and_minutes_sort() {
        let samples = one_per_minute(vec![
            sample("2026-03-14T14:02:00Z", 1),
            sample("2026-03-14T14:01:00Z", 2),
            sample("2026-03-14T14:02:00Z", 3),
        ]);
        let calls: Vec<_> = samples.iter().map(|s| s.calls).collect();
        assert_eq!(calls, vec![2, 3]);
    }
}
