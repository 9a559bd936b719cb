//! The receiver's counters, shared by its handlers, its forwarder and whoever reports its status.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::model::{SourceState, SourceStatus};

#[derive(Debug, Clone, Default)]
pub struct ReceiverStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    heard_from: AtomicBool,
    calls: AtomicU64,
    changes: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    skipped: AtomicU64,
    /// Wall-clock milliseconds of the last delivery; 0 for none yet.
    last_data_ms: AtomicI64,
    lag_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
}

impl ReceiverStats {
    /// The status the cockpit shows, under the name the user knows the receiver by.
    pub fn status(&self, name: &str) -> SourceStatus {
        let counters = &self.0;
        let last_data_ms = counters.last_data_ms.load(Ordering::Relaxed);
        let last_data = (last_data_ms != 0)
            .then(|| DateTime::from_timestamp_millis(last_data_ms))
            .flatten();
        SourceStatus {
            name: name.to_owned(),
            state: if counters.heard_from.load(Ordering::Relaxed) {
                SourceState::Connected
            } else {
                SourceState::Waiting
            },
            last_data,
            lag_ms: last_data.map(|_| counters.lag_ms.load(Ordering::Relaxed)),
            received: self.calls() + self.changes(),
            rejected: self.rejected(),
            dropped: self.dropped(),
            skipped: self.skipped(),
            last_error: self.last_error(),
        }
    }

    /// Calls handed to the consumer.
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }

    /// Changes handed to the consumer.
    pub fn changes(&self) -> u64 {
        self.0.changes.load(Ordering::Relaxed)
    }

    /// Spans, log records and change records that could not be read, and bodies that could not
    /// be decoded (one each).
    pub fn rejected(&self) -> u64 {
        self.0.rejected.load(Ordering::Relaxed)
    }

    /// Calls, evaluations and changes refused with 503 because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Spans that were not LLM calls (agents, tools, HTTP handlers) and log records that add
    /// nothing to a call (application logs), passed over.
    pub fn skipped(&self) -> u64 {
        self.0.skipped.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.0
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(super) fn heard_from(&self) {
        self.0.heard_from.store(true, Ordering::Relaxed);
    }

    /// A request refused without a record read (a wrong token).
    pub(super) fn note_refusal(&self, reason: String) {
        self.set_error(reason);
    }

    pub(super) fn reject(&self, count: u64, reason: String) {
        self.0.rejected.fetch_add(count, Ordering::Relaxed);
        self.set_error(reason);
    }

    pub(super) fn pass_over(&self, count: u64) {
        self.0.skipped.fetch_add(count, Ordering::Relaxed);
    }

    pub(super) fn drop_refused(&self, count: u64, reason: String) {
        self.0.dropped.fetch_add(count, Ordering::Relaxed);
        self.set_error(reason);
    }

    pub(super) fn delivered(&self, calls: u64, changes: u64, newest: Option<DateTime<Utc>>) {
        let now = Utc::now();
        self.0.calls.fetch_add(calls, Ordering::Relaxed);
        self.0.changes.fetch_add(changes, Ordering::Relaxed);
        self.0
            .last_data_ms
            .store(now.timestamp_millis(), Ordering::Relaxed);
        if let Some(newest) = newest {
            self.0
                .lag_ms
                .store((now - newest).num_milliseconds(), Ordering::Relaxed);
        }
    }

    fn set_error(&self, reason: String) {
        *self
            .0
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(reason);
    }
}
