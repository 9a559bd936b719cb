//! Calls or changes in the JSONL contract, from a followed file or standard input. A line that
//! does not parse is counted and named (file and line) in the source's status; it never stops
//! the stream.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::SourceEvent;
use super::follow::{Event, Follower, Line};
use crate::jsonl;
use crate::model::{Call, Change, SourceState, SourceStatus};
use crate::outbox::Deliver;

/// How often a followed file is looked at.
const POLL: Duration = Duration::from_millis(200);
/// Lines from standard input sent as one batch at most.
const STDIN_BATCH: usize = 2_000;

/// Where the lines come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A regular file, followed.
    File {
        path: PathBuf,
        from_start: bool,
    },
    /// A pipe or FIFO given by path (`--events <(cmd)`): read once, to its end.
    Pipe(PathBuf),
    Stdin,
}

impl Input {
    /// A path: followed when it is a regular file (or not there yet), read as a stream otherwise.
    pub fn at(path: PathBuf, from_start: bool) -> Self {
        if path.as_os_str() == "-" {
            Self::Stdin
        } else if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            Self::Pipe(path)
        } else {
            Self::File { path, from_start }
        }
    }
}

/// Which record each line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    Calls,
    Changes,
}

/// What the reading thread hands to the parsing task.
enum Feed {
    Lines(Vec<Line>),
    Event(Event),
    Failed(String),
    /// Reading works again after a failure.
    Recovered,
    Ended,
}

/// The name the status pane shows: "calls calls.jsonl", "changes stdin".
pub fn source_name(records: Records, input: &Input) -> String {
    let what = match records {
        Records::Calls => "calls",
        Records::Changes => "changes",
    };
    match input {
        Input::File { path, .. } | Input::Pipe(path) => format!("{what} {}", path.display()),
        Input::Stdin => format!("{what} stdin"),
    }
}

/// What a file followed from its start held when the cockpit started, read to its end, so the
/// app takes the history in as one stream on its own clock, as a replay does.
pub struct Backlog {
    pub calls: Vec<Call>,
    pub changes: Vec<Change>,
    /// Where following goes on: at the first line after the backlog.
    pub rest: Followed,
}

/// A file whose backlog has been read, to be followed from there.
pub struct Followed {
    follower: Follower,
    records: Records,
    label: String,
    status: SourceStatus,
}

impl Backlog {
    /// Reads the lines `path` holds now. A file that cannot be read yet has no backlog: following
    /// it reports why, as it would have without one.
    pub fn read(path: PathBuf, records: Records, line_limit: usize) -> Self {
        let input = Input::File {
            path: path.clone(),
            from_start: true,
        };
        let mut status = SourceStatus::waiting(source_name(records, &input));
        let label = path.display().to_string();
        let mut follower = Follower::new(path, true).with_line_limit(line_limit);
        let (mut calls, mut changes) = (Vec::new(), Vec::new());
        while let Ok(poll) = follower.poll() {
            if poll.events.contains(&Event::Opened) {
                status.state = SourceState::Connected;
            }
            let (more_calls, more_changes) = parse_batch(&poll.lines, records, &label, &mut status);
            calls.extend(more_calls);
            changes.extend(more_changes);
            if !poll.more {
                break;
            }
        }
        if !calls.is_empty() || !changes.is_empty() {
            status.last_data = Some(Utc::now());
        }
        Self {
            calls,
            changes,
            rest: Followed {
                follower,
                records,
                label,
                status,
            },
        }
    }
}

/// Reads `input` on a thread of its own and sends what it holds to the app until the app goes.
pub async fn run(
    input: Input,
    records: Records,
    line_limit: usize,
    actions: mpsc::Sender<impl From<SourceEvent> + Send>,
) {
    let name = source_name(records, &input);
    let label = match &input {
        Input::File { path, .. } | Input::Pipe(path) => path.display().to_string(),
        Input::Stdin => "stdin".to_string(),
    };
    let (feed_tx, feed) = mpsc::unbounded_channel();
    match input {
        Input::File { path, from_start } => {
            let follower = Follower::new(path, from_start).with_line_limit(line_limit);
            std::thread::spawn(move || follow(follower, feed_tx));
        }
        Input::Pipe(path) => {
            std::thread::spawn(move || match std::fs::File::open(&path) {
                Ok(pipe) => read_stream(pipe, &path.display().to_string(), line_limit, feed_tx),
                Err(error) => {
                    let _ = feed_tx.send(Feed::Failed(format!(
                        "cannot open {}: {error}",
                        path.display()
                    )));
                }
            });
        }
        Input::Stdin => {
            std::thread::spawn(move || read_stream(std::io::stdin(), "stdin", line_limit, feed_tx));
        }
    }
    forward(feed, records, &label, SourceStatus::waiting(name), actions).await;
}

/// Follows a file from the end of its backlog and sends what is appended until the app goes.
pub async fn run_followed(
    followed: Followed,
    actions: mpsc::Sender<impl From<SourceEvent> + Send>,
) {
    let Followed {
        follower,
        records,
        label,
        status,
    } = followed;
    let (feed_tx, feed) = mpsc::unbounded_channel();
    std::thread::spawn(move || follow(follower, feed_tx));
    forward(feed, records, &label, status, actions).await;
}

/// Parses what the reading thread hands over and sends it to the app with the source's status.
async fn forward(
    mut feed: mpsc::UnboundedReceiver<Feed>,
    records: Records,
    label: &str,
    mut status: SourceStatus,
    actions: mpsc::Sender<impl From<SourceEvent> + Send>,
) {
    if actions
        .deliver(SourceEvent::Status(status.clone()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(message) = feed.recv().await {
        let (calls, changes) = match message {
            Feed::Lines(lines) => parse_batch(&lines, records, label, &mut status),
            Feed::Event(Event::Opened) => {
                status.state = SourceState::Connected;
                (Vec::new(), Vec::new())
            }
            Feed::Event(event) => {
                tracing::info!(source = %status.name, ?event, "followed file changed");
                (Vec::new(), Vec::new())
            }
            Feed::Failed(error) => {
                status.state = SourceState::Failing(error.clone());
                status.last_error = Some(error);
                (Vec::new(), Vec::new())
            }
            Feed::Recovered => {
                status.state = SourceState::Connected;
                (Vec::new(), Vec::new())
            }
            Feed::Ended => {
                status.state = SourceState::Ended;
                (Vec::new(), Vec::new())
            }
        };
        let wall = Utc::now();
        let newest = calls
            .iter()
            .map(|c| c.ts)
            .chain(changes.iter().map(|c| c.ts))
            .max();
        if let Some(newest) = newest {
            status.last_data = Some(wall);
            status.lag_ms = Some((wall - newest).num_milliseconds());
            if actions
                .deliver(SourceEvent::observed_live(wall, calls, changes))
                .await
                .is_err()
            {
                return;
            }
        }
        if actions
            .deliver(SourceEvent::Status(status.clone()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Parses a batch, counting what parsed and naming the last line that did not.
fn parse_batch(
    lines: &[Line],
    records: Records,
    label: &str,
    status: &mut SourceStatus,
) -> (Vec<Call>, Vec<Change>) {
    let mut calls = Vec::new();
    let mut changes = Vec::new();
    for line in lines {
        if line.overlong.is_none() && line.bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = match (line.overlong, records) {
            (Some(overlong), _) => Err(overlong.to_string()),
            (None, Records::Calls) => parse::<Call>(&line.bytes).map(|c| calls.push(c)),
            (None, Records::Changes) => parse::<Change>(&line.bytes).map(|c| changes.push(c)),
        };
        match parsed {
            Ok(()) => status.received += 1,
            Err(reason) => {
                status.rejected += 1;
                let error = format!("{label} line {}: {reason}", line.number);
                tracing::warn!(%error, "line skipped");
                status.last_error = Some(error);
            }
        }
    }
    if status.state == SourceState::Waiting && !lines.is_empty() {
        status.state = SourceState::Connected;
    }
    (calls, changes)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|error| jsonl::describe(&error))
}

fn follow(mut follower: Follower, feed: mpsc::UnboundedSender<Feed>) {
    let mut failing = false;
    loop {
        let more = match follower.poll() {
            Ok(poll) => {
                if std::mem::take(&mut failing) && feed.send(Feed::Recovered).is_err() {
                    return;
                }
                let sent = poll
                    .events
                    .into_iter()
                    .all(|e| feed.send(Feed::Event(e)).is_ok())
                    && (poll.lines.is_empty() || feed.send(Feed::Lines(poll.lines)).is_ok());
                if !sent {
                    return;
                }
                poll.more
            }
            Err(error) => {
                // Said once per failure, not once per poll.
                if !failing
                    && feed
                        .send(Feed::Failed(format!(
                            "cannot read {}: {error}",
                            follower.path().display()
                        )))
                        .is_err()
                {
                    return;
                }
                failing = true;
                false
            }
        };
        if !more {
            std::thread::sleep(POLL);
        }
        if feed.is_closed() {
            return;
        }
    }
}

fn read_stream(
    stream: impl std::io::Read,
    label: &str,
    line_limit: usize,
    feed: mpsc::UnboundedSender<Feed>,
) {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, stream);
    let mut batch = Vec::new();
    let mut number = 0;
    loop {
        let mut bytes = Vec::new();
        match jsonl::read_line(&mut reader, &mut bytes, line_limit) {
            Ok(None) => break,
            Ok(Some(read)) => {
                number += 1;
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                }
                batch.push(Line {
                    number,
                    bytes,
                    overlong: read.err(),
                });
                // Send when nothing more is buffered, so a slow producer's lines are not held.
                if (batch.len() >= STDIN_BATCH || reader.buffer().is_empty())
                    && feed.send(Feed::Lines(std::mem::take(&mut batch))).is_err()
                {
                    return;
                }
            }
            Err(error) => {
                let _ = feed.send(Feed::Failed(format!("cannot read {label}: {error}")));
                return;
            }
        }
    }
    if !batch.is_empty() && feed.send(Feed::Lines(batch)).is_err() {
        return;
    }
    let _ = feed.send(Feed::Ended);
}
