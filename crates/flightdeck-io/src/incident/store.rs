//! The timeline store: one append-only JSONL file per incident, each entry written and fsync'd
//! before it is acknowledged.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::drill::Scorecard;
use crate::model::{Measurement, TimelineEntry};
use crate::{files, jsonl};

pub const TIMELINE_FILE: &str = "timeline.jsonl";
/// Each minute's metrics while the incident was open, and the minutes before it.
pub const SAMPLES_FILE: &str = "samples.jsonl";
/// Calls that failed during the incident: the evaluation set's new examples.
pub const EXAMPLES_FILE: &str = "examples.jsonl";
/// A drill's scorecard, written when the drill ends.
pub const SCORECARD_FILE: &str = "scorecard.json";

/// The file a measurement goes to, and its line.
fn file_and_line(measurement: &Measurement) -> (&'static str, Vec<u8>) {
    let (file, json) = match measurement {
        Measurement::Minute(sample) => (SAMPLES_FILE, serde_json::to_vec(sample)),
        Measurement::Example(call) => (EXAMPLES_FILE, serde_json::to_vec(call)),
    };
    let mut line = json.expect("measurements always serialize");
    line.push(b'\n');
    (file, line)
}

/// Appends one measurement to its file in the incident's folder, fsync'd, creating the file.
pub fn append_measurement(
    data_dir: &Path,
    id: &str,
    measurement: &Measurement,
) -> Result<(), StoreError> {
    let (file_name, line) = file_and_line(measurement);
    let dir = checked_dir(data_dir, id)?;
    create_dir(&dir)?;
    let path = dir.join(file_name);
    let mut file = jsonl::open_append(&path, false).map_err(|source| StoreError::Create {
        path: path.clone(),
        source,
    })?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(|source| StoreError::Write { path, source })
}

/// Writes a drill's scorecard beside its timeline, replacing any earlier one whole: a reader sees
/// the old file or the new one, never a part.
pub fn write_scorecard(data_dir: &Path, id: &str, scorecard: &Scorecard) -> Result<(), StoreError> {
    let dir = checked_dir(data_dir, id)?;
    create_dir(&dir)?;
    let mut json = serde_json::to_vec_pretty(scorecard).expect("a scorecard always serializes");
    json.push(b'\n');
    let temp = dir.join(format!(".{SCORECARD_FILE}.tmp"));
    let path = dir.join(SCORECARD_FILE);
    files::create_private(&temp)
        .and_then(|mut file| {
            file.write_all(&json)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temp, &path))
        .map_err(|source| StoreError::Write { path, source })
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no incident {id} in {dir}")]
    NotFound { id: String, dir: PathBuf },
    #[error(
        "{id:?} is not an incident id: an id is INC- then letters, digits and dashes, like INC-20260314-141700"
    )]
    BadId { id: String },
}

/// Where an incident's files live.
pub fn incident_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("incidents").join(id)
}

/// Whether `id` has the form the cockpit gives incidents: `INC-%Y%m%d-%H%M%S`, then `-N` for a
/// second incident opened within the same second.
pub fn is_incident_id(id: &str) -> bool {
    let digits = |part: Option<&str>, len: Option<usize>| {
        part.is_some_and(|p| {
            !p.is_empty()
                && len.is_none_or(|len| p.len() == len)
                && p.bytes().all(|b| b.is_ascii_digit())
        })
    };
    let Some(rest) = id.strip_prefix("INC-") else {
        return false;
    };
    let mut parts = rest.splitn(3, '-');
    digits(parts.next(), Some(8))
        && digits(parts.next(), Some(6))
        && parts.next().is_none_or(|n| digits(Some(n), None))
}

/// An incident's folder, for an id that is one plain file name: an id read from the command line
/// or a file must never lead outside the data dir. Looser than `is_incident_id`, so tools and
/// tests may name incidents in words.
fn checked_dir(data_dir: &Path, id: &str) -> Result<PathBuf, StoreError> {
    let plain = id.strip_prefix("INC-").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if plain {
        Ok(incident_dir(data_dir, id))
    } else {
        Err(StoreError::BadId { id: id.to_string() })
    }
}

/// Creates a folder (and any missing parents) as 0700.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    files::create_private_dir(dir).map_err(|source| StoreError::Create {
        path: dir.to_path_buf(),
        source,
    })
}

/// Checks at start that the data dir can be written, so a bad path is reported up front.
pub fn ensure_writable(data_dir: &Path) -> Result<(), StoreError> {
    let incidents = data_dir.join("incidents");
    create_dir(&incidents)?;
    let probe = incidents.join(".write-probe");
    File::create(&probe)
        .and_then(|mut f| f.write_all(b"ok"))
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|source| StoreError::Write {
            path: incidents,
            source,
        })
}

/// An open timeline, appended to one fsync'd line at a time.
pub struct TimelineStore {
    path: PathBuf,
    file: File,
}

impl TimelineStore {
    /// Creates a new incident's timeline; fails if that incident already has one, so two
    /// incidents can never share a file.
    pub fn create(data_dir: &Path, id: &str) -> Result<Self, StoreError> {
        Self::open_with(data_dir, id, true)
    }

    /// Opens an incident's timeline for appending, creating it (and its folder) if needed; a
    /// torn last line is moved aside first (see `jsonl::open_append`).
    pub fn open(data_dir: &Path, id: &str) -> Result<Self, StoreError> {
        Self::open_with(data_dir, id, false)
    }

    fn open_with(data_dir: &Path, id: &str, create_new: bool) -> Result<Self, StoreError> {
        let dir = checked_dir(data_dir, id)?;
        let created = !dir.exists();
        create_dir(&dir)?;
        let path = dir.join(TIMELINE_FILE);
        let file = jsonl::open_append(&path, create_new).map_err(|source| StoreError::Create {
            path: path.clone(),
            source,
        })?;
        // The new file's and folder's directory entries must be durable too, or a crash could
        // lose the whole incident after its entries were acknowledged.
        let parent = data_dir.join("incidents");
        let synced = sync_dir(&dir).and_then(|()| if created { sync_dir(&parent) } else { Ok(()) });
        synced.map_err(|source| StoreError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one entry as one line with a single write, then fsyncs; returns once it is on disk.
    pub fn append(&mut self, entry: &TimelineEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).expect("timeline entries always serialize");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| StoreError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A line of a timeline file that could not be read, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// A timeline as read back: every good entry, and every line that was not one.
#[derive(Debug, Default)]
pub struct LoadedTimeline {
    pub entries: Vec<TimelineEntry>,
    pub bad_lines: Vec<BadLine>,
}

/// Reads a timeline file. A line that does not parse (say, torn by a crash mid-write) is
/// reported with its number, never fatal.
pub fn load(data_dir: &Path, id: &str) -> Result<LoadedTimeline, StoreError> {
    let dir = checked_dir(data_dir, id)?;
    let path = dir.join(TIMELINE_FILE);
    if !path.exists() {
        return Err(StoreError::NotFound {
            id: id.to_string(),
            dir: data_dir.join("incidents"),
        });
    }
    let file = File::open(&path).map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    let mut loaded = LoadedTimeline::default();
    jsonl::for_each_raw_line(
        BufReader::new(file),
        jsonl::DEFAULT_MAX_LINE,
        |number, line| {
            let parsed = line
                .map_err(|overlong| overlong.to_string())
                .and_then(|line| {
                    jsonl::parse::<TimelineEntry>(line)
                        .or_else(|error| repaired_star(line).ok_or(error))
                        .map_err(|error| error.to_string())
                });
            match parsed {
                Ok(entry) => loaded.entries.push(entry),
                Err(reason) => loaded.bad_lines.push(BadLine {
                    line: number as usize,
                    reason,
                }),
            }
        },
    )
    .map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(loaded)
}

/// Lines of one of an incident's measurement files as read back: a missing file is an incident
/// recorded before it existed, so it reads as empty.
#[derive(Debug)]
pub struct LoadedLines<T> {
    pub items: Vec<T>,
    pub bad_lines: Vec<BadLine>,
    pub path: PathBuf,
}

pub fn load_lines<T: DeserializeOwned>(
    data_dir: &Path,
    id: &str,
    file_name: &str,
) -> Result<LoadedLines<T>, StoreError> {
    let path = checked_dir(data_dir, id)?.join(file_name);
    let mut loaded = LoadedLines {
        items: Vec::new(),
        bad_lines: Vec::new(),
        path: path.clone(),
    };
    if !path.exists() {
        return Ok(loaded);
    }
    let file = File::open(&path).map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    jsonl::for_each_line(
        BufReader::new(file),
        jsonl::DEFAULT_MAX_LINE,
        |number, parsed| match parsed {
            Ok(item) => loaded.items.push(item),
            Err(error) => loaded.bad_lines.push(BadLine {
                line: number as usize,
                reason: error.to_string(),
            }),
        },
    )
    .map_err(|source| StoreError::Read { path, source })?;
    Ok(loaded)
}

/// The torn last lines cut off `file_name` before it was appended to, read back from its `.torn`
/// side file, so a record can say what it left out.
pub fn torn_lines(data_dir: &Path, id: &str, file_name: &str) -> Result<Vec<BadLine>, StoreError> {
    let path = jsonl::torn_path(&checked_dir(data_dir, id)?.join(file_name));
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = File::open(&path).map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    let mut torn = Vec::new();
    jsonl::for_each_raw_line(BufReader::new(file), jsonl::DEFAULT_MAX_LINE, |number, line| {
        let bytes = line.map_or_else(|o| o.bytes as usize, |l| l.trim_ascii_end().len());
        torn.push(BadLine {
            line: number as usize,
            reason: format!(
                "a torn last line of {file_name} ({bytes} bytes), cut off before the next line was appended"
            ),
        });
    })
    .map_err(|source| StoreError::Read { path, source })?;
    Ok(torn)
}

/// A star written before stars named their entry `entry`: its line holds `seq` twice, the
/// line's own first. Read with the second as `entry`, so the star is not lost.
fn repaired_star(line: &[u8]) -> Option<TimelineEntry> {
    let text = std::str::from_utf8(line).ok()?;
    if !text.contains(r#""kind":"starred""#) {
        return None;
    }
    let first = text.find(r#""seq":"#)?;
    let second = first + 1 + text[first + 1..].find(r#""seq":"#)?;
    let repaired = format!(r#"{}"entry":{}"#, &text[..second], &text[second + 6..]);
    serde_json::from_str(&repaired).ok()
}

/// Ids of the recorded incidents, oldest first (ids sort by their timestamp).
pub fn incident_ids(data_dir: &Path) -> Result<Vec<String>, StoreError> {
    let dir = data_dir.join("incidents");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let read = fs::read_dir(&dir).map_err(|source| StoreError::Read {
        path: dir.clone(),
        source,
    })?;
    // A folder whose name is not an id is not an incident, and would only fail to load.
    let mut ids: Vec<String> = read
        .filter_map(Result::ok)
        .filter(|e| e.path().join(TIMELINE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| checked_dir(data_dir, id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;
    use crate::model::timeline::note_fixture as entry;
    use crate::model::{FailingCall, MinuteSample};

    #[test]
    fn appended_entries_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TimelineStore::open(dir.path(), "INC-1").unwrap();
        for seq in 1..=3 {
            store.append(&entry(seq)).unwrap();
        }
        let loaded = load(dir.path(), "INC-1").unwrap();
        assert_eq!(loaded.entries, vec![entry(1), entry(2), entry(3)]);
        assert!(loaded.bad_lines.is_empty());
        assert_eq!(incident_ids(dir.path()).unwrap(), vec!["INC-1"]);
    }

    #[test]
    fn creating_an_incident_that_exists_fails_instead_of_mixing_timelines() {
        let dir = tempfile::tempdir().unwrap();
        TimelineStore::create(dir.path(), "INC-1")
            .unwrap()
            .append(&entry(1))
            .unwrap();
        let error = TimelineStore::create(dir.path(), "INC-1").err().unwrap();
        assert!(error.to_string().contains("INC-1"), "{error}");
        assert_eq!(load(dir.path(), "INC-1").unwrap().entries.len(), 1);
    }

    #[test]
    fn a_torn_line_is_reported_with_its_number_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TimelineStore::open(dir.path(), "INC-1").unwrap();
        store.append(&entry(1)).unwrap();
        let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(br#"{"seq":2,"ts":"2026-03"#).unwrap();
        let loaded = load(dir.path(), "INC-1").unwrap();
        assert_eq!(loaded.entries.len(), 1);
        assert_eq!(loaded.bad_lines.len(), 1);
        assert_eq!(loaded.bad_lines[0].line, 2);
    }

    #[test]
    fn measurements_append_to_their_own_files_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        TimelineStore::open(dir.path(), "INC-1").unwrap();
        let sample = MinuteSample {
            minute: "2026-03-14T14:17:00Z".parse().unwrap(),
            calls: 40,
            stride: 1,
            metrics: Default::default(),
        };
        append_measurement(dir.path(), "INC-1", &Measurement::Minute(sample.clone())).unwrap();
        let loaded = load_lines::<MinuteSample>(dir.path(), "INC-1", SAMPLES_FILE).unwrap();
        assert_eq!(loaded.items, vec![sample]);
        let none = load_lines::<FailingCall>(dir.path(), "INC-1", EXAMPLES_FILE).unwrap();
        assert!(none.items.is_empty() && none.bad_lines.is_empty());
    }

    #[test]
    fn a_star_written_with_two_seq_fields_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TimelineStore::open(dir.path(), "INC-1").unwrap();
        store.append(&entry(1)).unwrap();
        let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(
            br#"{"seq":2,"ts":"2026-03-14T14:18:00Z","recorded_at":"2026-03-14T14:18:00Z","actor":"oncall","kind":"starred","seq":1,"starred":true,"text":"starred entry 1"}
"#,
        )
        .unwrap();
        let loaded = load(dir.path(), "INC-1").unwrap();
        assert!(loaded.bad_lines.is_empty(), "{:?}", loaded.bad_lines);
        assert_eq!(loaded.entries[1].seq, 2);
        assert_eq!(
            loaded.entries[1].kind,
            crate::model::EntryKind::Starred {
                seq: 1,
                starred: true
            }
        );
    }

    #[test]
    fn a_missing_incident_names_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let error = load(dir.path(), "INC-404").unwrap_err();
        assert!(error.to_string().contains("INC-404"), "{error}");
    }

    #[test]
    fn ids_are_the_form_the_cockpit_makes_and_never_a_path() {
        for id in ["INC-20260314-141700", "INC-20260314-141700-12"] {
            assert!(is_incident_id(id), "{id}");
        }
        for id in [
            "INC-2026031-141700",
            "INC-20260314-141700-",
            "INC-20260314-141700-1-2",
            "INC-20260314-14170a",
            "inc-20260314-141700",
            "../../../x/INC-X",
        ] {
            assert!(!is_incident_id(id), "{id}");
        }
        let dir = tempfile::tempdir().unwrap();
        for id in ["../INC-1", "/tmp/INC-1", "INC-../x", "INC-", "INC-a/b", "x"] {
            let error = load(dir.path(), id).unwrap_err();
            assert!(matches!(error, StoreError::BadId { .. }), "{id}: {error}");
            assert!(TimelineStore::open(dir.path(), id).is_err(), "{id}");
        }
    }

    #[test]
    fn an_unusable_data_dir_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the data dir should be fails even for root, unlike permissions.
        let blocked = dir.path().join("not-a-dir");
        fs::write(&blocked, "x").unwrap();
        let error = ensure_writable(&blocked).unwrap_err();
        assert!(error.to_string().contains("not-a-dir"), "{error}");
    }
}
