//! The I/O edge's events as the app's actions: sources, actuators and the store report in their
//! own types, and only here do they meet the app.

use crate::actuators::ActuatorEvent;
use crate::app::Action;
use crate::enrichment::stage::CallBatch;
use crate::incident::writer::StoreEvent;
use crate::model::Call;
use crate::sources::SourceEvent;

impl From<SourceEvent> for Action {
    fn from(event: SourceEvent) -> Self {
        match event {
            SourceEvent::Observed {
                now,
                wall,
                calls,
                changes,
            } => Self::Observed {
                now,
                wall,
                calls,
                changes,
            },
            SourceEvent::Status(status) => Self::Source(status),
            SourceEvent::Infra(readings) => Self::Infra(readings),
            SourceEvent::Playback(playback) => Self::Playback(playback),
            SourceEvent::Embeddings(status) => Self::Embeddings(status),
        }
    }
}

impl From<ActuatorEvent> for Action {
    fn from(event: ActuatorEvent) -> Self {
        match event {
            ActuatorEvent::PlansRead(plans) => Self::PlansRead(plans),
            ActuatorEvent::Mitigation(stage) => Self::Mitigation(stage),
        }
    }
}

impl From<StoreEvent> for Action {
    fn from(event: StoreEvent) -> Self {
        match event {
            StoreEvent::EntryPersisted { incident_id, seq } => {
                Self::EntryPersisted { incident_id, seq }
            }
            StoreEvent::EntryPersistFailed {
                incident_id,
                seq,
                error,
            } => Self::EntryPersistFailed {
                incident_id,
                seq,
                error,
            },
            StoreEvent::MeasurementFailed(error) => Self::MeasurementFailed(error),
        }
    }
}

impl CallBatch for Action {
    fn calls_mut(&mut self) -> Option<&mut Vec<Call>> {
        match self {
            Self::Observed { calls, .. } => Some(calls),
            _ => None,
        }
    }
}
