//! The incident record beyond its lifecycle: the impact start the engine estimates until someone
//! sets it, and the edits to title, summary, root cause, roles, named times and entry texts.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{App, Effect, SYSTEM_ACTOR};
use crate::model::{EntryKind, NamedTime, Status};

/// The estimate moves the record only by at least this much, so it does not churn.
fn estimate_step() -> Duration {
    Duration::minutes(1)
}

impl App {
    /// Whether someone set the impact start by hand: then the estimate no longer moves it.
    fn impact_start_set_by_hand(&self) -> bool {
        self.timeline.iter().any(|l| {
            matches!(
                l.entry.kind,
                EntryKind::TimeSet {
                    time: NamedTime::ImpactStart,
                    ..
                }
            ) && l.entry.actor != SYSTEM_ACTOR
        })
    }

    /// Logs the engine's onset estimate as the impact start, and each later estimate that moves
    /// it, until the incident is mitigated or someone sets it.
    pub(super) fn estimate_impact_start(&mut self) -> Option<Effect> {
        let incident = self.incident.as_ref()?;
        if incident.status >= Status::Mitigated || self.impact_start_set_by_hand() {
            return None;
        }
        let onset = self.assessment.as_ref()?.episode.as_ref()?.onset?;
        // The record keeps whole seconds, as every time it shows.
        let onset = onset.duration_trunc(Duration::seconds(1)).ok()?;
        let from = incident.impact_start;
        if from.is_some_and(|known| (known - onset).abs() < estimate_step()) {
            return None;
        }
        let text = format!(
            "impact start {}: the engine's onset estimate{}",
            stamp(onset),
            from.map(|f| format!(" (was {})", stamp(f)))
                .unwrap_or_default()
        );
        self.log(
            EntryKind::TimeSet {
                time: NamedTime::ImpactStart,
                from,
                to: onset,
            },
            SYSTEM_ACTOR,
            text,
        )
    }
}

fn stamp(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
