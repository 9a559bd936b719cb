//! `watch` on a file with history and `replay` of the same file agree: the same onset, verdicts,
//! evidence and timeline, and the deploy a minute before the failures is in the infrastructure
//! step's evidence. Both paths run as their commands run them, short of the terminal.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use flightdeck::app::{Action, App, Settings};
use flightdeck::cli::ReplayArgs;
use flightdeck::commands::setup::EngineSetup;
use flightdeck::commands::{replay, watch};
use flightdeck::config::file::ConfigFile;
use flightdeck::engine::triage::{Category, Triage, Verdict};
use flightdeck::jsonl::DEFAULT_MAX_LINE;
use flightdeck::model::{Call, Change};
use flightdeck::runtime::coalesce;
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator};
use flightdeck::sources::events::{self, Backlog, Records};
use flightdeck::sources::playback;
use tokio::sync::mpsc;

/// Two hours of the provider degradation, ending a few seconds ago as a live log does, with a
/// deploy one minute and ten seconds before the provider starts failing.
struct Recorded {
    dir: tempfile::TempDir,
    failures_from: DateTime<Utc>,
    deploy: DateTime<Utc>,
    last_call: DateTime<Utc>,
}

impl Recorded {
    fn write() -> Self {
        let scenario = Scenario::builtin("provider-degradation")
            .expect("a built-in scenario")
            .expect("it parses");
        let failures_from = scenario.events.iter().map(|e| e.at).max().unwrap();
        let end = failures_from + Duration::minutes(45);
        let mut sim = Simulator::new(scenario, 42);
        let (mut calls, _) = SimOutput::split(sim.advance_to(end));
        // Whole minutes, so the stream keeps its place on the evaluation grid.
        let shift = Duration::minutes((Utc::now() - end).num_minutes());
        for call in &mut calls {
            call.ts += shift;
        }
        let failures_from = failures_from + shift;
        let deploy = failures_from - Duration::seconds(70);
        let change: Change = serde_json::from_value(serde_json::json!({
            "ts": deploy.to_rfc3339(), "kind": "deploy", "target": "api",
            "from": "v2.2", "to": "v2.3", "author": "ci",
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_lines(&dir.path().join("calls.jsonl"), &calls);
        write_lines(&dir.path().join("changes.jsonl"), &[change]);
        Self {
            dir,
            failures_from,
            deploy,
            last_call: calls.last().unwrap().ts,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn write_lines<T: serde::Serialize>(path: &Path, records: &[T]) {
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn cockpit() -> App {
    let settings = Settings {
        actor: "oncall".into(),
        source: "test".into(),
        read_only: true,
        dry_run: false,
        speed: None,
        present: false,
        local_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
        drill: None,
    };
    App::new(settings, setup().engine(), Utc::now())
}

fn setup() -> EngineSetup {
    EngineSetup::new(&ConfigFile::default(), &[], None).expect("the default setup")
}

/// The clock of both cockpits moved to the same time, as `watch`'s clock task moves it.
fn tick(app: &mut App, at: DateTime<Utc>) {
    app.update(Action::observed_live(at, Vec::new(), Vec::new()));
}

/// `flightdeck watch --events calls.jsonl --changes changes.jsonl`: the files' backlogs read
/// and taken in as history before anything else, as the command does.
fn watched(recorded: &Recorded) -> App {
    let backlogs = vec![
        Backlog::read(
            recorded.path("calls.jsonl"),
            Records::Calls,
            DEFAULT_MAX_LINE,
        ),
        Backlog::read(
            recorded.path("changes.jsonl"),
            Records::Changes,
            DEFAULT_MAX_LINE,
        ),
    ];
    let (history, _) = watch::history(backlogs, Utc::now());
    let mut app = cockpit();
    app.update(history.expect("the files hold a history"));
    app
}

/// `flightdeck replay calls.jsonl --changes changes.jsonl`: the recording played batch by batch,
/// a minute of it per tick, folded the way the cockpit's loop folds what is waiting.
fn replayed(recorded: &Recorded) -> (App, Option<DateTime<Utc>>) {
    let args = ReplayArgs {
        calls: recorded.path("calls.jsonl"),
        changes: Some(recorded.path("changes.jsonl")),
        speed: 600.0,
        schemas: Vec::new(),
    };
    let recording = replay::load(&args, setup(), DEFAULT_MAX_LINE).expect("the recording loads");
    let headless_onset = recording.onset;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let actions = runtime.block_on(async {
        let (actions_tx, mut actions) = mpsc::channel(64);
        let (_commands_tx, commands) = mpsc::unbounded_channel();
        tokio::spawn(playback::run(recording, args.speed, actions_tx, commands));
        let mut received = Vec::new();
        loop {
            let action = tokio::time::timeout(StdDuration::from_secs(60), actions.recv())
                .await
                .expect("the replay goes on")
                .expect("the replay runs to its end");
            let ended = matches!(&action, Action::Playback(p) if p.ended);
            received.push(action);
            if ended {
                return received;
            }
        }
    });
    let mut app = cockpit();
    let mut waiting = actions.into_iter();
    while let Some(first) = waiting.next() {
        let (merged, after) = coalesce(first, || waiting.next());
        app.update(merged);
        for action in after {
            app.update(action);
        }
    }
    (app, headless_onset)
}

fn triage(app: &App) -> &Triage {
    app.triage.as_ref().expect("a triage")
}

/// The system's entries: what the engine's evaluations logged, and when.
fn logged(app: &App) -> Vec<(DateTime<Utc>, String)> {
    app.timeline
        .iter()
        .map(|l| (l.entry.ts, l.entry.text.clone()))
        .collect()
}

#[test]
fn watch_on_a_file_with_history_equals_its_replay() {
    let recorded = Recorded::write();
    let mut watch = watched(&recorded);
    let (mut replay, headless_onset) = replayed(&recorded);
    // The replay's clock ends up to a tick (a minute) past the last call; both move on to there.
    let later = recorded.last_call + Duration::minutes(1);
    tick(&mut watch, later);
    tick(&mut replay, later);

    let (watched, replayed) = (triage(&watch), triage(&replay));
    assert_eq!(watched.onset, replayed.onset);
    let onset = watched.onset;
    // Within the engine's own onset tolerance.
    let tolerance = Duration::minutes(2);
    assert!(
        (onset - recorded.failures_from).abs() <= tolerance,
        "onset {onset}, failures from {}",
        recorded.failures_from
    );
    // The headless triage the replay jumps to with `o`, and `flightdeck triage` prints.
    let headless_onset = headless_onset.expect("the headless triage finds the incident");
    assert!(
        (headless_onset - onset).abs() <= tolerance,
        "headless onset {headless_onset}, cockpit onset {onset}"
    );
    assert_eq!(watched.conclusion(), Some(Category::Infrastructure));
    assert_eq!(watched.steps, replayed.steps);
    assert_eq!(logged(&watch), logged(&replay));
    let impact_start = |app: &App| app.incident.as_ref().and_then(|i| i.impact_start);
    assert_eq!(impact_start(&watch), impact_start(&replay));

    let infrastructure = watched.step(Category::Infrastructure);
    assert_eq!(infrastructure.verdict, Verdict::Likely);
    let deploy = format!(
        "deploy api v2.2 → v2.3 at {}, 1m before onset",
        recorded.deploy.format("%H:%M:%S")
    );
    assert!(
        infrastructure.evidence.contains(&deploy),
        "{deploy:?} not in {:#?}",
        infrastructure.evidence
    );
}

#[test]
fn a_watched_file_is_followed_from_the_end_of_its_history() {
    let recorded = Recorded::write();
    let path = recorded.path("calls.jsonl");
    let backlog = Backlog::read(path.clone(), Records::Calls, DEFAULT_MAX_LINE);
    let history = backlog.calls.len();
    assert!(history > 1000, "{history} calls of history");
    let appended: Call = serde_json::from_value(serde_json::json!({
        "ts": Utc::now().to_rfc3339(), "feature": "support-answer",
        "model_requested": "gpt-4o", "status": "ok", "latency_ms": 900, "request_id": "after",
    }))
    .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(file, "{}", serde_json::to_string(&appended).unwrap()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let followed = runtime.block_on(async {
        let (actions_tx, mut actions) = mpsc::channel(64);
        tokio::spawn(events::run_followed(backlog.rest, actions_tx));
        loop {
            let action = tokio::time::timeout(StdDuration::from_secs(10), actions.recv())
                .await
                .expect("the appended line arrives")
                .expect("the source runs");
            if let Action::Observed { calls, .. } = action {
                return calls;
            }
        }
    });
    assert_eq!(followed, [appended], "only the line after the history");
}
