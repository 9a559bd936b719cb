//! The timeline writer: a thread that appends entries in order, fsyncs each, and reports back,
//! so the screen marks an entry logged only once it is on disk.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle};

use tokio::sync::mpsc;

use super::store::TimelineStore;
use crate::app::Action;
use crate::model::TimelineEntry;

pub struct TimelineWriter {
    entries: std_mpsc::Sender<(String, TimelineEntry)>,
    thread: JoinHandle<()>,
}

impl TimelineWriter {
    pub fn spawn(data_dir: PathBuf, reports: mpsc::UnboundedSender<Action>) -> Self {
        let (entries, inbox) = std_mpsc::channel::<(String, TimelineEntry)>();
        let thread = thread::spawn(move || {
            let mut stores: HashMap<String, TimelineStore> = HashMap::new();
            for (incident_id, entry) in inbox {
                let seq = entry.seq;
                let result = match stores.entry(incident_id) {
                    Entry::Occupied(mut store) => store.get_mut().append(&entry),
                    Entry::Vacant(slot) => {
                        // The first entry opens the incident: its file must not exist yet.
                        let opened = if seq == 1 {
                            TimelineStore::create(&data_dir, slot.key())
                        } else {
                            TimelineStore::open(&data_dir, slot.key())
                        };
                        opened.and_then(|store| slot.insert(store).append(&entry))
                    }
                };
                let report = match result {
                    Ok(()) => Action::EntryPersisted { seq },
                    Err(error) => {
                        tracing::error!(%error, seq, "timeline write failed");
                        Action::EntryPersistFailed {
                            seq,
                            error: error.to_string(),
                        }
                    }
                };
                // The app may have quit; the entry is on disk (or its failure logged) either way.
                let _ = reports.send(report);
            }
        });
        Self { entries, thread }
    }

    pub fn write(&self, incident_id: String, entry: TimelineEntry) {
        if self.entries.send((incident_id, entry)).is_err() {
            tracing::error!("the timeline writer thread has stopped");
        }
    }

    /// Waits until every entry sent so far is on disk.
    pub fn finish(self) {
        drop(self.entries);
        let _ = self.thread.join();
    }
}
