//! Between the handlers and the consumer: a queue bounded in records, so a handler never waits
//! on the consumer (it refuses with 503 instead), and a task that holds calls for the join
//! window, attaches evaluations, and hands calls and changes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Received;
use super::stats::ReceiverStats;
use crate::model::{Call, Change};
use crate::otel::batch::{Addition, SpanKey};
use crate::otel::join::{EvalJoin, Released};

/// Calls per batch handed on: the cockpit takes a batch in one update, and a frame due meanwhile
/// waits for it, so batches stay small however many calls leave the join at once.
const HANDOFF_CALLS: usize = 256;

/// What a handler accepted, on its way to the forwarder.
#[derive(Debug)]
pub enum Intake {
    Calls(Vec<(SpanKey, Call)>),
    Additions(Vec<Addition>),
    Changes(Vec<Change>),
}

impl Intake {
    fn len(&self) -> usize {
        match self {
            Self::Calls(calls) => calls.len(),
            Self::Additions(additions) => additions.len(),
            Self::Changes(changes) => changes.len(),
        }
    }
}

/// The handlers' end of the queue.
#[derive(Debug, Clone)]
pub struct Queue {
    sender: mpsc::UnboundedSender<Intake>,
    waiting: Arc<AtomicUsize>,
    capacity: usize,
}

/// The queue had no room; the records were not taken.
#[derive(Debug)]
pub struct Full {
    pub waiting: usize,
    pub capacity: usize,
}

impl Queue {
    pub fn new(capacity: usize) -> (Self, mpsc::UnboundedReceiver<Intake>, Arc<AtomicUsize>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let queue = Self {
            sender,
            waiting: Arc::clone(&waiting),
            capacity,
        };
        (queue, receiver, waiting)
    }

    /// Takes the records if they fit; a batch larger than the whole queue is taken only when
    /// the queue is empty, so it is not refused forever.
    pub fn push(&self, intake: Intake) -> Result<(), Full> {
        let count = intake.len();
        if count == 0 {
            return Ok(());
        }
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting == 0 || waiting + count <= self.capacity).then_some(waiting + count)
            })
            .map_err(|waiting| Full {
                waiting,
                capacity: self.capacity,
            })?;
        // Only while shutting down is the forwarder gone: refuse as full, and the exporter retries.
        if self.sender.send(intake).is_err() {
            self.waiting.fetch_sub(count, Ordering::AcqRel);
            return Err(Full {
                waiting: self.capacity,
                capacity: self.capacity,
            });
        }
        Ok(())
    }
}

/// Runs until every handler has dropped its end of the queue, then hands on all it still holds.
/// `waiting` counts records in the channel and in the join until the consumer has them.
pub async fn forward(
    mut intake: mpsc::UnboundedReceiver<Intake>,
    waiting: Arc<AtomicUsize>,
    window: Duration,
    out: mpsc::Sender<Received>,
    stats: ReceiverStats,
) {
    let mut join = EvalJoin::new(window);
    // What the join held after the last step, as counted in `waiting`.
    let mut held = 0;
    let mut open = true;
    while open {
        let deadline = join.next_deadline().map(Instant::from_std);
        let mut taken = 0;
        tokio::select! {
            message = intake.recv() => match message {
                Some(message) => {
                    taken = message.len();
                    take(message, &mut join, &out, &stats).await;
                }
                None => open = false,
            },
            () = sleep_until(deadline) => {}
        }
        let released = if open {
            join.release(std::time::Instant::now())
        } else {
            join.release_all()
        };
        hand_on(released, &out, &stats).await;
        let now_held = join.waiting();
        // One update, so a handler never sees the count lower or higher than it is.
        match now_held.cmp(&(held + taken)) {
            std::cmp::Ordering::Greater => {
                waiting.fetch_add(now_held - held - taken, Ordering::AcqRel);
            }
            std::cmp::Ordering::Less => {
                waiting.fetch_sub(held + taken - now_held, Ordering::AcqRel);
            }
            std::cmp::Ordering::Equal => {}
        }
        held = now_held;
    }
}

/// Calls and what log records add to them go into the join; changes need no join and go straight on.
async fn take(
    message: Intake,
    join: &mut EvalJoin,
    out: &mpsc::Sender<Received>,
    stats: &ReceiverStats,
) {
    let now = std::time::Instant::now();
    match message {
        Intake::Calls(calls) => {
            for (key, call) in calls {
                join.add_call(key, call, now);
            }
        }
        Intake::Additions(additions) => {
            for addition in additions {
                join.add(addition, now);
            }
        }
        Intake::Changes(changes) => {
            let count = changes.len() as u64;
            if out.send(Received::Changes(changes)).await.is_ok() {
                stats.delivered(0, count, None);
            } else {
                consumer_gone(stats, count, "changes");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn hand_on(released: Released, out: &mpsc::Sender<Received>, stats: &ReceiverStats) {
    let Released {
        calls,
        orphans,
        late,
    } = released;
    if let Some((key, what)) = orphans.first() {
        stats.reject(
            orphans.len() as u64,
            format!(
                "{what} for span {} of trace {}: no LLM call with that span arrived within the join window",
                key.span_id, key.trace_id
            ),
        );
    }
    if let Some((key, what)) = late.first() {
        stats.reject(
            late.len() as u64,
            format!(
                "{what} for span {} of trace {}: arrived after its call was handed on (the join window is too short for this exporter)",
                key.span_id, key.trace_id
            ),
        );
    }
    let mut calls = calls.into_iter().peekable();
    while calls.peek().is_some() {
        let batch: Vec<Call> = calls.by_ref().take(HANDOFF_CALLS).collect();
        let count = batch.len() as u64;
        let newest = batch.iter().map(|call| call.ts).max();
        // The consumer may be slow; meanwhile the queue fills and handlers refuse with 503.
        if out.send(Received::Calls(batch)).await.is_ok() {
            stats.delivered(count, 0, newest);
        } else {
            consumer_gone(stats, count, "calls");
        }
    }
}

/// Records that were accepted but that no consumer will take (the cockpit is closing): counted.
fn consumer_gone(stats: &ReceiverStats, count: u64, what: &str) {
    let reason = format!("{count} {what} accepted but not handed on: the consumer has stopped");
    tracing::warn!("OTLP receiver: {reason}");
    stats.drop_refused(count, reason);
}
