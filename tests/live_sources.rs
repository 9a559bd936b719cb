//! The live sources as the cockpit sees them: the actions a followed JSONL file and a replayed
//! recording send, driven on a real tokio runtime against real files.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use flightdeck::app::{Action, PlaybackCommand};
use flightdeck::jsonl;
use flightdeck::model::{Call, SourceState, SourceStatus};
use flightdeck::sim::scenario::Scenario;
use flightdeck::sim::{SimOutput, Simulator};
use flightdeck::sources::events::{self, Input, Records};
use flightdeck::sources::playback::{self, Recording};
use tokio::sync::mpsc;

fn call_line(request_id: &str) -> String {
    format!(
        r#"{{"ts":"{}","feature":"support-answer","model_requested":"gpt-4o","status":"ok","latency_ms":800,"request_id":"{request_id}"}}"#,
        Utc::now().to_rfc3339()
    )
}

fn append(path: &Path, lines: &[String]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

/// What a source has sent so far: its calls, its last status, and how many statuses.
#[derive(Default)]
struct Seen {
    calls: Vec<Call>,
    status: Option<SourceStatus>,
    statuses: usize,
}

/// Collects actions until `done` holds, or fails after ten seconds saying what was seen.
async fn collect_until(
    actions: &mut mpsc::Receiver<Action>,
    seen: &mut Seen,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(seen) {
        let action = tokio::time::timeout_at(deadline, actions.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out: {} calls, status {:?}",
                    seen.calls.len(),
                    seen.status
                )
            })
            .expect("the source keeps its channel");
        match action {
            Action::Observed { calls, .. } => seen.calls.extend(calls),
            Action::Source(status) => {
                seen.status = Some(status);
                seen.statuses += 1;
            }
            _ => {}
        }
    }
}

fn ids(calls: &[Call]) -> Vec<&str> {
    calls
        .iter()
        .filter_map(|c| c.request_id.as_deref())
        .collect()
}

#[tokio::test]
async fn a_followed_file_counts_bad_lines_by_number_and_survives_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    append(
        &path,
        &[
            call_line("a"),
            r#"{"ts":"2026-03-14T14:15:00Z","feature":"x"}"#.into(),
            call_line("b"),
        ],
    );
    let (tx, mut actions) = mpsc::channel(64);
    let input = Input::File {
        path: path.clone(),
        from_start: true,
    };
    tokio::spawn(events::run(
        input,
        Records::Calls,
        jsonl::DEFAULT_MAX_LINE,
        tx,
    ));
    let mut seen = Seen::default();
    collect_until(&mut actions, &mut seen, |s| {
        s.status.as_ref().is_some_and(|st| st.received == 2)
    })
    .await;
    assert_eq!(ids(&seen.calls), ["a", "b"]);
    let status = seen.status.clone().unwrap();
    assert_eq!(status.state, SourceState::Connected);
    assert_eq!(status.rejected, 1);
    let error = status.last_error.unwrap();
    assert!(
        error.contains("calls.jsonl line 2") && error.contains("model_requested"),
        "{error}"
    );

    // Rotated: the old file's last lines first, then the new file from its start.
    append(&path, &[call_line("c")]);
    std::fs::rename(&path, dir.path().join("calls.jsonl.1")).unwrap();
    append(&path, &[call_line("d")]);
    // Up to the status that follows d's batch, so the next status is news.
    collect_until(&mut actions, &mut seen, |s| {
        s.calls.len() == 4 && s.status.as_ref().is_some_and(|st| st.received == 4)
    })
    .await;
    assert_eq!(ids(&seen.calls), ["a", "b", "c", "d"]);

    // Truncated in place (logrotate's copytruncate): read again from the start.
    std::fs::File::create(&path).unwrap();
    // The follower reports the truncation with a status; only then is the file written again.
    let before = seen.statuses;
    collect_until(&mut actions, &mut seen, |s| s.statuses > before).await;
    append(&path, &[call_line("e")]);
    collect_until(&mut actions, &mut seen, |s| s.calls.len() == 5).await;
    assert_eq!(ids(&seen.calls)[4], "e");
}

#[tokio::test]
async fn a_file_that_does_not_exist_yet_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.jsonl");
    let (tx, mut actions) = mpsc::channel(64);
    let input = Input::File {
        path: path.clone(),
        from_start: false,
    };
    tokio::spawn(events::run(
        input,
        Records::Calls,
        jsonl::DEFAULT_MAX_LINE,
        tx,
    ));
    let mut seen = Seen::default();
    collect_until(&mut actions, &mut seen, |s| s.status.is_some()).await;
    assert_eq!(seen.status.as_ref().unwrap().state, SourceState::Waiting);
    // Past the first look, so the file is new to the follower, not history it was told to skip.
    // A look that finds no file sends nothing, so there is no event to wait for: this waits out
    // a time far past the look, which comes as soon as the follower's thread starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    append(&path, &[call_line("first")]);
    collect_until(&mut actions, &mut seen, |s| s.calls.len() == 1).await;
    assert_eq!(seen.status.unwrap().state, SourceState::Connected);
}

fn recording(minutes: i64) -> Recording {
    let scenario = Scenario::builtin("prompt-regression").unwrap().unwrap();
    let end = scenario.start + chrono::Duration::minutes(minutes);
    let (calls, changes) = SimOutput::split(Simulator::new(scenario, 5).advance_to(end));
    Recording {
        calls,
        changes,
        onset: None,
        status: SourceStatus::waiting("replay test"),
    }
}

#[tokio::test]
async fn a_replay_plays_everything_in_order_and_ends() {
    let recording = recording(30);
    let total = recording.calls.len();
    let (tx, mut actions) = mpsc::channel(64);
    let (_playback, commands) = mpsc::unbounded_channel();
    tokio::spawn(playback::run(recording, 3600.0, tx, commands));
    let mut seen = Seen::default();
    collect_until(&mut actions, &mut seen, |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.state == SourceState::Ended)
    })
    .await;
    assert_eq!(seen.calls.len(), total);
    assert!(seen.calls.windows(2).all(|w| w[0].ts <= w[1].ts));
}

// The replay keeps time with tokio alone: on a paused clock its ticks come in order, however
// loaded the machine.
#[tokio::test(start_paused = true)]
async fn a_paused_replay_stands_still_and_a_jump_lands_ten_minutes_before_the_onset() {
    let mut recording = recording(120);
    let onset = recording.calls[0].ts + chrono::Duration::minutes(90);
    recording.onset = Some(onset);
    let (tx, mut actions) = mpsc::channel(64);
    let (playback, commands) = mpsc::unbounded_channel();
    playback.send(PlaybackCommand::Pause).unwrap();
    // At 3600× a tick is six minutes of calls (about 180): unpaused, half a second is 900.
    tokio::spawn(playback::run(recording, 3600.0, tx, commands));
    // Half a second on the paused clock: five ticks, taken at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut delivered = 0;
    while let Ok(action) = actions.try_recv() {
        if let Action::Observed { calls, .. } = action {
            delivered += calls.len();
        }
    }
    assert!(
        delivered <= 200,
        "paused from the start, yet {delivered} calls"
    );

    playback.send(PlaybackCommand::JumpToOnset).unwrap();
    let mut seen = Seen::default();
    collect_until(&mut actions, &mut seen, |s| {
        s.calls
            .last()
            .is_some_and(|c| c.ts >= onset - chrono::Duration::minutes(11))
    })
    .await;
    let last = seen.calls.last().unwrap().ts;
    assert!(
        last <= onset - chrono::Duration::minutes(10),
        "the jump stops short of the onset: {last} vs {onset}"
    );
}

#[tokio::test]
async fn a_fifo_given_as_the_events_file_is_read_as_a_stream_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("calls.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let input = Input::at(fifo.clone(), true);
    assert!(matches!(input, Input::Pipe(_)), "{input:?}");
    let (tx, mut actions) = mpsc::channel(64);
    tokio::spawn(events::run(
        input,
        Records::Calls,
        jsonl::DEFAULT_MAX_LINE,
        tx,
    ));
    let writer = std::thread::spawn(move || append(&fifo, &[call_line("p1"), call_line("p2")]));
    let mut seen = Seen::default();
    collect_until(&mut actions, &mut seen, |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.state == SourceState::Ended)
    })
    .await;
    writer.join().unwrap();
    assert_eq!(ids(&seen.calls), ["p1", "p2"]);
}
