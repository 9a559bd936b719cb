//! Tokio tasks that read the world and report what they see as [`SourceEvent`]s, on a channel
//! of any message type made from them (the runtime's is the app's action).

use chrono::{DateTime, Utc};

use crate::model::{Call, Change, EmbeddingsStatus, InfraReading, PlaybackStatus, SourceStatus};

pub mod events;
pub mod follow;
pub mod otlp;
pub mod phoenix;
pub mod playback;
pub mod prometheus;
pub mod simulated;

/// What a source reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// What a source saw up to `now` on its clock, delivered at `wall` on the wall clock.
    Observed {
        now: DateTime<Utc>,
        wall: DateTime<Utc>,
        calls: Vec<Call>,
        changes: Vec<Change>,
    },
    /// The source's connection and counters, replacing its last report.
    Status(SourceStatus),
    /// The infrastructure queries' latest answers, replacing the last ones of the same names.
    Infra(Vec<InfraReading>),
    /// Where a replay's playback stands.
    Playback(PlaybackStatus),
    /// Where the embeddings of the calls now come from.
    Embeddings(EmbeddingsStatus),
}

impl SourceEvent {
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
