//! Everything that can change the app's state, and what the app asks the edge to do.

use chrono::{DateTime, Utc};

use super::keymap::{Command, Key};
use crate::drill::Scorecard;
use crate::model::{
    Call, Change, InfraReading, Measurement, MitigationPlan, MitigationStage, SourceStatus,
    TimelineEntry,
};
pub use crate::model::{EmbeddingsStatus, PlaybackCommand, PlaybackStatus, jump_lead};

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(Key),
    Command(Command),
    /// What a source saw up to `now` on its clock, delivered at `wall` on the wall clock.
    Observed {
        now: DateTime<Utc>,
        wall: DateTime<Utc>,
        calls: Vec<Call>,
        changes: Vec<Change>,
    },
    /// The mitigation backends' current state, read.
    PlansRead(Vec<MitigationPlan>),
    /// How the mitigation in flight is going: applied, then verified by read-back, or failed.
    Mitigation(MitigationStage),
    EntryPersisted {
        incident_id: String,
        seq: u64,
    },
    EntryPersistFailed {
        incident_id: String,
        seq: u64,
        error: String,
    },
    /// A measurement (a minute's metrics, a failing call) could not be written.
    MeasurementFailed(String),
    /// The open editor's text, submitted (a note, a record field, an entry's text).
    TextSubmitted(String),
    /// The timeline filter's text as it is being typed.
    FilterTyped(String),
    /// Where the embeddings of the calls now come from.
    Embeddings(EmbeddingsStatus),
    /// A source's connection and counters, replacing its last report.
    Source(SourceStatus),
    /// The infrastructure queries' latest answers, replacing the last ones of the same names.
    Infra(Vec<InfraReading>),
    /// Where a replay's playback stands.
    Playback(PlaybackStatus),
    /// A signal asks the cockpit to stop: it quits at once, a drill's scorecard recorded first.
    Terminate,
}

impl Action {
    /// What a live source saw, delivered now: its clock is the wall clock.
    pub fn observed_live(wall: DateTime<Utc>, calls: Vec<Call>, changes: Vec<Change>) -> Self {
        Self::Observed {
            now: wall,
            wall,
            calls,
            changes,
        }
    }
}

/// Work the edge does for the app; its outcome comes back as an [`Action`].
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append the entry to the incident's timeline on disk, then report `EntryPersisted`.
    Persist {
        incident_id: String,
        entry: Box<TimelineEntry>,
    },
    /// Apply exactly the plan the user confirmed, for the incident open then.
    ApplyMitigation {
        plan: Box<MitigationPlan>,
        incident: Option<String>,
    },
    /// Append a minute's metrics or a failing call beside the incident's timeline.
    Measure {
        incident_id: String,
        measurement: Box<Measurement>,
    },
    /// Write a drill's scorecard beside the incident's timeline.
    WriteScorecard {
        incident_id: String,
        scorecard: Box<Scorecard>,
    },
    Playback(PlaybackCommand),
    Quit,
}
