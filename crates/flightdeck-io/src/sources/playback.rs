//! Plays a recorded stream on a virtual clock, `speed` times faster than the wall clock, with
//! pause and a jump to shortly before the onset.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::mpsc;

use super::SourceEvent;
use crate::model::{Call, Change, SourceState, SourceStatus};
use crate::model::{PlaybackCommand, PlaybackStatus, jump_lead};
use crate::outbox::Deliver;

/// How often the clock advances, in wall time.
const TICK: StdDuration = StdDuration::from_millis(100);
/// The most calls in one delivery, so a jump over hours does not stall the screen.
const MAX_BATCH: usize = 5_000;

/// A stream read from disk, in time order.
#[derive(Debug)]
pub struct Recording {
    pub calls: Vec<Call>,
    pub changes: Vec<Change>,
    /// Where the headless triage puts the onset, if it found an incident.
    pub onset: Option<DateTime<Utc>>,
    /// The status the loader reported: name, lines read and rejected.
    pub status: SourceStatus,
}

impl Recording {
    fn start(&self) -> Option<DateTime<Utc>> {
        let first_call = self.calls.first().map(|c| c.ts);
        let first_change = self.changes.first().map(|c| c.ts);
        first_call.into_iter().chain(first_change).min()
    }
}

/// Plays the recording until it ends or the app goes away.
pub async fn run(
    recording: Recording,
    speed: f64,
    actions: mpsc::Sender<impl From<SourceEvent> + Send>,
    mut commands: mpsc::UnboundedReceiver<PlaybackCommand>,
) {
    let Some(start) = recording.start() else {
        let mut status = recording.status;
        status.state = SourceState::Ended;
        let _ = actions.deliver(SourceEvent::Status(status)).await;
        return;
    };
    let Recording {
        calls,
        changes,
        onset,
        status,
    } = recording;
    let mut player = Player {
        calls,
        changes,
        next_call: 0,
        next_change: 0,
        now: start,
        status,
    };
    let mut playback = PlaybackStatus {
        paused: false,
        onset,
        ended: false,
    };
    if actions
        .deliver(SourceEvent::Playback(playback.clone()))
        .await
        .is_err()
    {
        return;
    }
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let step = Duration::milliseconds((TICK.as_millis() as f64 * speed) as i64);
    loop {
        let until = tokio::select! {
            _ = ticker.tick() => {
                if playback.paused || playback.ended {
                    continue;
                }
                player.now + step
            }
            Some(command) = commands.recv() => match command {
                PlaybackCommand::Pause | PlaybackCommand::Resume => {
                    playback.paused = command == PlaybackCommand::Pause;
                    if actions.deliver(SourceEvent::Playback(playback.clone())).await.is_err() {
                        return;
                    }
                    continue;
                }
                PlaybackCommand::JumpToOnset => match playback.onset {
                    Some(onset) if onset - jump_lead() > player.now => {
                        onset - jump_lead()
                    }
                    _ => continue,
                },
            },
            else => return,
        };
        if !player.play_until(until, &actions).await {
            return;
        }
        if player.finished() {
            playback.ended = true;
            player.status.state = SourceState::Ended;
            let sent = actions
                .deliver(SourceEvent::Status(player.status.clone()))
                .await
                .is_ok()
                && actions
                    .deliver(SourceEvent::Playback(playback.clone()))
                    .await
                    .is_ok();
            if !sent {
                return;
            }
        }
    }
}

struct Player {
    calls: Vec<Call>,
    changes: Vec<Change>,
    next_call: usize,
    next_change: usize,
    now: DateTime<Utc>,
    status: SourceStatus,
}

impl Player {
    fn finished(&self) -> bool {
        self.next_call == self.calls.len() && self.next_change == self.changes.len()
    }

    /// Delivers everything up to `until`, in batches; `false` once the app has gone.
    async fn play_until(
        &mut self,
        until: DateTime<Utc>,
        actions: &mpsc::Sender<impl From<SourceEvent> + Send>,
    ) -> bool {
        loop {
            let calls_end = self.calls[self.next_call..]
                .iter()
                .take(MAX_BATCH)
                .position(|c| c.ts > until)
                .map_or((self.next_call + MAX_BATCH).min(self.calls.len()), |i| {
                    self.next_call + i
                });
            let full = calls_end - self.next_call == MAX_BATCH;
            // A full batch ends at its last call; the clock catches up in the next.
            let batch_until = if full {
                self.calls[calls_end - 1].ts
            } else {
                until
            };
            let changes_end = self.changes[self.next_change..]
                .iter()
                .position(|c| c.ts > batch_until)
                .map_or(self.changes.len(), |i| self.next_change + i);
            let calls = self.calls[self.next_call..calls_end].to_vec();
            let changes = self.changes[self.next_change..changes_end].to_vec();
            self.next_call = calls_end;
            self.next_change = changes_end;
            self.now = batch_until;
            let wall = Utc::now();
            if !calls.is_empty() {
                self.status.last_data = Some(wall);
            }
            let observed = SourceEvent::Observed {
                now: batch_until,
                wall,
                calls,
                changes,
            };
            if actions.deliver(observed).await.is_err()
                || actions
                    .deliver(SourceEvent::Status(self.status.clone()))
                    .await
                    .is_err()
            {
                return false;
            }
            if !full {
                return true;
            }
        }
    }
}
