//! The incident store under faults and hostile input (issue 20): a torn last line never swallows
//! the next entry, what we write is the user's alone whatever the umask, an incident id can never
//! lead outside the data dir, and a dropped timeline writer loses nothing it was given.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use flightdeck::drill::{Answer, Scorecard};
use flightdeck::incident::postmortem::load;
use flightdeck::incident::store::{self, TimelineStore};
use flightdeck::incident::writer::{StoreEvent, TimelineWriter};
use flightdeck::model::{
    EntryKind, FailingCall, Measurement, MinuteSample, Severity, TimelineEntry,
};

const ID: &str = "INC-20260314-141700";
const DIR_VAR: &str = "FLIGHTDECK_HARDENING_DIR";
const FRAGMENT: &[u8] = br#"{"seq":14,"ts":"2026-03-14T15:2"#;

fn entry(seq: u64, kind: EntryKind, text: &str) -> TimelineEntry {
    TimelineEntry {
        seq,
        ts: "2026-03-14T14:17:00Z".parse().unwrap(),
        recorded_at: "2026-03-14T14:17:00Z".parse().unwrap(),
        actor: "oncall".into(),
        kind,
        text: text.into(),
        metrics: Default::default(),
    }
}

fn opened() -> TimelineEntry {
    let kind = EntryKind::Opened {
        id: ID.into(),
        title: "Hallucination critical".into(),
        severity: Severity::Sev2,
        source: "test".into(),
        drill: None,
    };
    entry(1, kind, "opened")
}

fn sample(minute: u32) -> MinuteSample {
    MinuteSample {
        minute: format!("2026-03-14T14:{minute:02}:00Z").parse().unwrap(),
        calls: 20,
        stride: 1,
        metrics: Default::default(),
    }
}

fn failing(minute: u32) -> FailingCall {
    FailingCall {
        ts: format!("2026-03-14T14:{minute:02}:00Z").parse().unwrap(),
        request_id: None,
        feature: "support-answers".into(),
        model: "m".into(),
        prompt_version: None,
        failed: vec!["hallucination_rate".into()],
        input: Some("where is my refund".into()),
        output: Some("refunds take 3 days".into()),
    }
}

/// An incident with 13 entries, a sample and an example, as a cockpit leaves it.
fn recorded(data_dir: &Path) {
    let mut timeline = TimelineStore::create(data_dir, ID).unwrap();
    timeline.append(&opened()).unwrap();
    for seq in 2..=13 {
        timeline
            .append(&entry(seq, EntryKind::Note, &format!("note {seq}")))
            .unwrap();
    }
    store::append_measurement(data_dir, ID, &Measurement::Minute(sample(17))).unwrap();
    store::append_measurement(data_dir, ID, &Measurement::Example(failing(17))).unwrap();
}

fn tear(path: &Path, fragment: &[u8]) {
    let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(fragment).unwrap();
}

fn incident_file(data_dir: &Path, name: &str) -> std::path::PathBuf {
    store::incident_dir(data_dir, ID).join(name)
}

#[test]
fn a_note_added_after_a_torn_line_is_kept_and_the_fragment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let timeline = incident_file(dir.path(), store::TIMELINE_FILE);
    tear(&timeline, FRAGMENT);

    // As `demo --incident ID` does: the writer reopens the timeline and a note is added.
    let (reports, _rx) = tokio::sync::mpsc::unbounded_channel::<StoreEvent>();
    let writer = TimelineWriter::spawn(dir.path().to_path_buf(), reports);
    writer.write(
        ID.into(),
        entry(14, EntryKind::Note, "the note after the tear"),
    );
    writer.finish();

    let loaded = store::load(dir.path(), ID).unwrap();
    assert!(loaded.bad_lines.is_empty(), "{:?}", loaded.bad_lines);
    assert_eq!(loaded.entries.len(), 14);
    assert_eq!(loaded.entries[13].text, "the note after the tear");
    let torn = fs::read(store::incident_dir(dir.path(), ID).join("timeline.jsonl.torn")).unwrap();
    assert_eq!(
        torn,
        [FRAGMENT, b"\n"].concat(),
        "the fragment's bytes are kept"
    );

    let record = load::load(dir.path(), ID).unwrap();
    assert_eq!(record.problems.len(), 1, "{:?}", record.problems);
    assert_eq!(record.problems[0].file, "timeline.jsonl.torn");
    assert_eq!(record.problems[0].line, 1);
    assert!(
        record.problems[0]
            .reason
            .contains("torn last line of timeline.jsonl"),
        "{:?}",
        record.problems[0]
    );
}

#[test]
fn measurements_appended_after_a_torn_line_start_a_line_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    for name in [store::SAMPLES_FILE, store::EXAMPLES_FILE] {
        tear(
            &incident_file(dir.path(), name),
            br#"{"minute":"2026-03-14T14:1"#,
        );
    }
    store::append_measurement(dir.path(), ID, &Measurement::Minute(sample(18))).unwrap();
    store::append_measurement(dir.path(), ID, &Measurement::Example(failing(18))).unwrap();

    let samples = store::load_lines::<MinuteSample>(dir.path(), ID, store::SAMPLES_FILE).unwrap();
    assert!(samples.bad_lines.is_empty(), "{:?}", samples.bad_lines);
    assert_eq!(samples.items, vec![sample(17), sample(18)]);
    let examples = store::load_lines::<FailingCall>(dir.path(), ID, store::EXAMPLES_FILE).unwrap();
    assert!(examples.bad_lines.is_empty(), "{:?}", examples.bad_lines);
    assert_eq!(examples.items, vec![failing(17), failing(18)]);

    let problems = load::load(dir.path(), ID).unwrap().problems;
    let files: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files, ["samples.jsonl.torn", "examples.jsonl.torn"]);
}

#[test]
fn a_file_that_is_all_fragment_is_moved_aside_whole() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let samples = incident_file(dir.path(), store::SAMPLES_FILE);
    fs::write(&samples, b"{\"minute\":").unwrap();
    store::append_measurement(dir.path(), ID, &Measurement::Minute(sample(19))).unwrap();
    let loaded = store::load_lines::<MinuteSample>(dir.path(), ID, store::SAMPLES_FILE).unwrap();
    assert_eq!(loaded.items, vec![sample(19)]);
    assert!(loaded.bad_lines.is_empty());
}

#[test]
fn a_dropped_writer_drains_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (reports, _rx) = tokio::sync::mpsc::unbounded_channel::<StoreEvent>();
    let writer = TimelineWriter::spawn(dir.path().to_path_buf(), reports);
    writer.write(ID.into(), opened());
    for seq in 2..=40 {
        writer.write(ID.into(), entry(seq, EntryKind::Note, "queued"));
    }
    // The run loop's `draw(...)?` leaves this way: the writer dropped, `finish` never called.
    drop(writer);
    assert_eq!(store::load(dir.path(), ID).unwrap().entries.len(), 40);
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs `command` under `umask 000`, the most permissive there is.
fn permissive(program: &Path, args: &[&str], dir_var: Option<&Path>) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"umask 000; exec "$0" "$@""#)
        .arg(program)
        .args(args);
    if let Some(dir) = dir_var {
        command.env(DIR_VAR, dir);
    }
    command.output().unwrap()
}

/// Writes a whole incident record, run as a child process under a permissive umask.
#[test]
#[ignore = "run as a child process by what_we_write_is_private_whatever_the_umask"]
fn private_files_child() {
    let dir = std::env::var(DIR_VAR).expect("the parent test sets the directory");
    let data_dir = Path::new(&dir).join("data");
    store::ensure_writable(&data_dir).unwrap();
    recorded(&data_dir);
    tear(&incident_file(&data_dir, store::SAMPLES_FILE), b"{");
    store::append_measurement(&data_dir, ID, &Measurement::Minute(sample(18))).unwrap();
    let answer = Answer::builtin("red-herring").unwrap();
    let scorecard = Scorecard::new(
        &answer,
        &[opened()],
        "2026-03-14T14:17:00Z".parse().unwrap(),
    );
    store::write_scorecard(&data_dir, ID, &scorecard).unwrap();
}

#[test]
fn what_we_write_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let run = permissive(
        &std::env::current_exe().unwrap(),
        &[
            "--ignored",
            "--exact",
            "private_files_child",
            "--test-threads=1",
        ],
        Some(dir.path()),
    );
    assert!(run.status.success(), "{run:?}");
    let data_dir = dir.path().join("data");
    let incident = store::incident_dir(&data_dir, ID);
    for folder in [&data_dir, &data_dir.join("incidents"), &incident] {
        assert_eq!(mode(folder), 0o700, "{}", folder.display());
    }
    for file in [
        "timeline.jsonl",
        "samples.jsonl",
        "samples.jsonl.torn",
        "examples.jsonl",
        "scorecard.json",
    ] {
        assert_eq!(mode(&incident.join(file)), 0o600, "{file}");
    }

    // The binary: an export and a runbook written with -o, the log and a recording.
    let bin = Path::new(env!("CARGO_BIN_EXE_flightdeck"));
    let data = data_dir.to_str().unwrap();
    let export = dir.path().join("postmortem.md");
    let run = permissive(
        bin,
        &[
            "--data-dir",
            data,
            "export",
            ID,
            "--format",
            "md",
            "-o",
            export.to_str().unwrap(),
        ],
        None,
    );
    assert!(run.status.success(), "{run:?}");
    assert_eq!(mode(&export), 0o600);

    let fresh = dir.path().join("fresh");
    let calls = dir.path().join("calls.jsonl");
    let run = permissive(
        bin,
        &[
            "--data-dir",
            fresh.to_str().unwrap(),
            "record",
            "--otlp",
            "127.0.0.1:0",
            "--out",
            calls.to_str().unwrap(),
            "--duration",
            "0.1",
        ],
        None,
    );
    assert!(run.status.success(), "{run:?}");
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("logs")), 0o700);
    assert_eq!(mode(&fresh.join("logs").join("flightdeck.log")), 0o600);
    assert_eq!(mode(&calls), 0o600);
}

fn flightdeck(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_id_that_is_a_path_exits_2_naming_it_and_touches_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("a").join("data");
    let outside = root.path().join("x");
    // An incident's folder outside the data dir, where `../../../x/INC-X` leads from inside.
    fs::create_dir_all(outside.join("INC-X")).unwrap();
    let mut line = serde_json::to_vec(&opened()).unwrap();
    line.push(b'\n');
    fs::write(outside.join("INC-X").join(store::TIMELINE_FILE), line).unwrap();
    let escape = "../../../x/INC-X";
    let absolute = outside.join("INC-X").display().to_string();
    for args in [
        vec!["export", escape, "--format", "md"],
        vec!["export", &absolute, "--format", "json"],
        vec!["demo", "--incident", escape],
        vec!["demo", "--incident", &absolute],
        vec!["watch", "--incident", escape],
        vec!["export", "INC-20260314-141700/../../x", "--format", "md"],
    ] {
        let run = flightdeck(&args, &data_dir);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        let id = args.iter().find(|a| a.contains("INC-")).unwrap();
        assert!(
            stderr.contains(&format!("{id:?} is not an incident id")),
            "{args:?}: {stderr}"
        );
        assert!(run.stdout.is_empty(), "{args:?} printed a record");
    }
    let inside: Vec<_> = fs::read_dir(outside.join("INC-X"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inside.len(), 1, "nothing written beside {inside:?}");
}
