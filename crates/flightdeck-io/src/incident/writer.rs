//! The timeline writer: a thread that appends entries in order, fsyncs each, and reports back,
//! so the screen marks an entry logged only once it is on disk.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle};

use tokio::sync::mpsc;

use super::store::{self, TimelineStore};
use crate::drill::Scorecard;
use crate::model::{Measurement, TimelineEntry};
use crate::outbox::Report;

/// What the writer thread is asked to put on disk, in order.
enum Write {
    Entry(String, TimelineEntry),
    Measurement(String, Measurement),
    Scorecard(String, Box<Scorecard>),
}

/// What the writer reports, once a write is done.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreEvent {
    EntryPersisted {
        incident_id: String,
        seq: u64,
    },
    EntryPersistFailed {
        incident_id: String,
        seq: u64,
        error: String,
    },
    /// A measurement (a minute's metrics, a failing call) or a scorecard could not be written.
    MeasurementFailed(String),
}

/// Dropped, it drains and joins like `finish`, so an early return loses no queued entry.
pub struct TimelineWriter {
    entries: Option<std_mpsc::Sender<Write>>,
    thread: Option<JoinHandle<()>>,
}

impl TimelineWriter {
    pub fn spawn<M: From<StoreEvent> + Send + 'static>(
        data_dir: PathBuf,
        reports: mpsc::UnboundedSender<M>,
    ) -> Self {
        let (entries, inbox) = std_mpsc::channel::<Write>();
        let thread = thread::spawn(move || {
            let mut stores: HashMap<String, TimelineStore> = HashMap::new();
            // Incidents whose opening entry could not be written: later entries must not land
            // in some other file of the same name.
            let mut unopened: HashMap<String, String> = HashMap::new();
            for write in inbox {
                let (incident_id, entry) = match write {
                    Write::Entry(incident_id, entry) => (incident_id, entry),
                    Write::Measurement(incident_id, measurement) => {
                        // Measurements follow the incident's opening entry, so its folder exists.
                        if let Err(error) =
                            store::append_measurement(&data_dir, &incident_id, &measurement)
                        {
                            tracing::error!(%error, "measurement write failed");
                            let _ =
                                reports.report(StoreEvent::MeasurementFailed(error.to_string()));
                        }
                        continue;
                    }
                    Write::Scorecard(incident_id, scorecard) => {
                        if let Err(error) =
                            store::write_scorecard(&data_dir, &incident_id, &scorecard)
                        {
                            tracing::error!(%error, "scorecard write failed");
                            let _ =
                                reports.report(StoreEvent::MeasurementFailed(error.to_string()));
                        }
                        continue;
                    }
                };
                let seq = entry.seq;
                let result = if let Some(reason) = unopened.get(&incident_id) {
                    Err(format!(
                        "the incident's first entry was not written: {reason}"
                    ))
                } else {
                    match stores.entry(incident_id.clone()) {
                        Entry::Occupied(mut store) => {
                            store.get_mut().append(&entry).map_err(|e| e.to_string())
                        }
                        Entry::Vacant(slot) => {
                            // The first entry opens the incident: its file must not exist yet.
                            let opened = if seq == 1 {
                                TimelineStore::create(&data_dir, slot.key())
                            } else {
                                TimelineStore::open(&data_dir, slot.key())
                            };
                            match opened {
                                Ok(store) => {
                                    slot.insert(store).append(&entry).map_err(|e| e.to_string())
                                }
                                Err(error) => {
                                    let reason = error.to_string();
                                    if seq == 1 {
                                        unopened.insert(incident_id.clone(), reason.clone());
                                    }
                                    Err(reason)
                                }
                            }
                        }
                    }
                };
                let report = match result {
                    Ok(()) => StoreEvent::EntryPersisted { incident_id, seq },
                    Err(error) => {
                        tracing::error!(%error, seq, "timeline write failed");
                        StoreEvent::EntryPersistFailed {
                            incident_id,
                            seq,
                            error,
                        }
                    }
                };
                // The app may have quit; the entry is on disk (or its failure logged) either way.
                let _ = reports.report(report);
            }
        });
        Self {
            entries: Some(entries),
            thread: Some(thread),
        }
    }

    pub fn write(&self, incident_id: String, entry: TimelineEntry) {
        self.send(Write::Entry(incident_id, entry));
    }

    pub fn measure(&self, incident_id: String, measurement: Measurement) {
        self.send(Write::Measurement(incident_id, measurement));
    }

    pub fn scorecard(&self, incident_id: String, scorecard: Scorecard) {
        self.send(Write::Scorecard(incident_id, Box::new(scorecard)));
    }

    fn send(&self, write: Write) {
        let sent = self
            .entries
            .as_ref()
            .is_some_and(|entries| entries.send(write).is_ok());
        if !sent {
            tracing::error!("the timeline writer thread has stopped");
        }
    }

    /// Waits until every entry sent so far is on disk.
    pub fn finish(mut self) {
        self.drain();
    }

    /// Closes the queue and waits for the thread to write what it holds; a second call does
    /// nothing, so `finish` and `Drop` can both run.
    fn drain(&mut self) {
        drop(self.entries.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the timeline writer thread panicked");
        }
    }
}

impl Drop for TimelineWriter {
    fn drop(&mut self) {
        self.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::store;
    use crate::model::timeline::note_fixture as entry;

    fn reports(rx: &mut mpsc::UnboundedReceiver<StoreEvent>) -> Vec<StoreEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn entries_are_reported_once_on_disk_and_never_mixed_into_another_incident() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = TimelineWriter::spawn(dir.path().to_path_buf(), tx);
        writer.write("INC-1".into(), entry(1));
        writer.write("INC-1".into(), entry(2));
        writer.finish();
        assert_eq!(
            reports(&mut rx),
            vec![
                StoreEvent::EntryPersisted {
                    incident_id: "INC-1".into(),
                    seq: 1
                },
                StoreEvent::EntryPersisted {
                    incident_id: "INC-1".into(),
                    seq: 2
                },
            ]
        );

        // A second incident with the same id: its opening fails, and so does what follows it.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = TimelineWriter::spawn(dir.path().to_path_buf(), tx);
        writer.write("INC-1".into(), entry(1));
        writer.write("INC-1".into(), entry(2));
        writer.finish();
        let failed: Vec<u64> = reports(&mut rx)
            .into_iter()
            .map(|report| match report {
                StoreEvent::EntryPersistFailed { seq, .. } => seq,
                other => panic!("expected a failure, got {other:?}"),
            })
            .collect();
        assert_eq!(failed, vec![1, 2]);
        assert_eq!(store::load(dir.path(), "INC-1").unwrap().entries.len(), 2);
    }

    #[test]
    fn dropping_the_writer_drains_its_queue_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = TimelineWriter::spawn(dir.path().to_path_buf(), tx);
        for seq in 1..=50 {
            writer.write("INC-1".into(), entry(seq));
        }
        // As the run loop's `?` does: no `finish`, the writer just goes out of scope.
        drop(writer);
        assert_eq!(store::load(dir.path(), "INC-1").unwrap().entries.len(), 50);
        assert_eq!(reports(&mut rx).len(), 50);
    }
}
