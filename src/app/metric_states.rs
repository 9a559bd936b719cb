//! What the metrics' states say: alarms logged at once, recoveries once they have held (a
//! metric crossing its limit back and forth is counted as flapping, not logged at every
//! crossing), and whether the metrics a mitigation should bring back have recovered.

use chrono::{DateTime, Duration, Utc};

use super::{App, Effect, SYSTEM_ACTOR};
use crate::engine::metrics::{Family, Measure, MetricId, MetricReading, MetricState};
use crate::model::EntryKind;

/// How long a metric must stay inside its limit before its alarm ends and its recovery is
/// logged: shorter stretches are noise around the limit, not a recovery.
fn recovery_hold() -> Duration {
    Duration::minutes(5)
}

/// A metric that alarms again this soon after its recovery was logged is flapping.
fn flap_window() -> Duration {
    Duration::minutes(15)
}

/// A flapping metric is summed up once it has held one side of its limit this long.
fn flap_settle() -> Duration {
    Duration::minutes(15)
}

/// A metric crossing its limit back and forth: its flips are counted, not logged one by one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flapping {
    /// When the alarm before the first recovery began.
    since: DateTime<Utc>,
    flips: u32,
    alarming: bool,
    last_flip: DateTime<Utc>,
    worst: MetricState,
}

impl App {
    /// Logs escalations at once and recoveries once they have held.
    pub(super) fn log_metric_states(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        if self.incident.is_none() {
            return Vec::new();
        }
        let mut effects = Vec::new();
        let readings = self.readings();
        for reading in readings.iter().cloned() {
            if reading.id.family() == Family::Volume || repeats_refusal(&reading, &readings) {
                continue;
            }
            if self.flapping.contains_key(&reading.id) {
                effects.extend(self.count_flap(&reading, now));
                continue;
            }
            let logged = self
                .logged_states
                .get(&reading.id)
                .copied()
                .unwrap_or(MetricState::Ok);
            if reading.state.is_alarm() {
                self.ok_since.remove(&reading.id);
                if reading.state <= logged {
                    continue;
                }
                self.logged_states.insert(reading.id, reading.state);
                let label = reading.id.label();
                let recovered = self.recovered_at.get(&reading.id).copied();
                let text = match recovered.filter(|at| now - *at <= flap_window()) {
                    Some(at) if logged == MetricState::Ok => {
                        let since = self.alarmed_at.get(&reading.id).copied().unwrap_or(at);
                        self.flapping.insert(
                            reading.id,
                            Flapping {
                                since,
                                flips: 2,
                                alarming: true,
                                last_flip: now,
                                worst: reading.state,
                            },
                        );
                        format!(
                            "{label} {} again {} min after it recovered: flapping, so its flips are counted, not logged, until it holds one side of its limit for {} min: {}",
                            reading.state,
                            (now - at).num_minutes(),
                            flap_settle().num_minutes(),
                            describe(&reading)
                        )
                    }
                    _ => {
                        if logged == MetricState::Ok {
                            self.alarmed_at.insert(reading.id, now);
                        }
                        format!("{label} {}: {}", reading.state, describe(&reading))
                    }
                };
                effects.extend(self.log_state(&reading, reading.state.to_string(), text));
            } else if logged.is_alarm() && reading.state == MetricState::Ok {
                let since = *self.ok_since.entry(reading.id).or_insert(now);
                if now - since >= recovery_hold() {
                    self.logged_states.insert(reading.id, MetricState::Ok);
                    self.ok_since.remove(&reading.id);
                    self.recovered_at.insert(reading.id, now);
                    let text = format!("{} back to ok: {}", reading.id.label(), describe(&reading));
                    effects.extend(self.log_state(&reading, "ok".into(), text));
                }
            }
        }
        effects
    }

    /// Counts a flapping metric's crossings of its limit; logs a state worse than any while it
    /// flapped, and one entry that sums the flips once it has held one side long enough.
    pub(super) fn count_flap(
        &mut self,
        reading: &MetricReading,
        now: DateTime<Utc>,
    ) -> Option<Effect> {
        let flap = self.flapping.get_mut(&reading.id)?;
        let alarming = reading.state.is_alarm();
        if alarming != flap.alarming {
            flap.flips += 1;
            flap.alarming = alarming;
            flap.last_flip = now;
        }
        let label = reading.id.label();
        if reading.state > flap.worst {
            flap.worst = reading.state;
            self.logged_states.insert(reading.id, reading.state);
            let text = format!(
                "{label} {} while flapping: {}",
                reading.state,
                describe(reading)
            );
            return self.log_state(reading, reading.state.to_string(), text);
        }
        if now - flap.last_flip < flap_settle() {
            return None;
        }
        let flap = self.flapping.remove(&reading.id)?;
        let held = if alarming {
            reading.state
        } else {
            MetricState::Ok
        };
        self.logged_states.insert(reading.id, held);
        if !alarming {
            self.recovered_at.insert(reading.id, now);
        }
        let text = format!(
            "{label} flapped {}× between {} and {}, then held {held} for {} min: {}",
            flap.flips,
            flap.since.format("%H:%M"),
            flap.last_flip.format("%H:%M UTC"),
            flap_settle().num_minutes(),
            describe(reading)
        );
        let state = if alarming {
            held.to_string()
        } else {
            "ok".into()
        };
        self.log_state(reading, state, text)
    }

    /// Logs a metric's new state: as a detection, or as the effect of the mitigation in force
    /// that was expected to move it.
    pub(super) fn log_state(
        &mut self,
        reading: &MetricReading,
        state: String,
        text: String,
    ) -> Option<Effect> {
        let metric = reading.id.key().to_string();
        let (kind, text) = match self.expected_effects.get(&reading.id) {
            Some((action, why)) => {
                let text = if state == "ok" {
                    format!("{text}: the {action}'s effect on it has passed")
                } else {
                    format!("{text}: expected from the {action} ({why})")
                };
                let action = action.to_string();
                let kind = EntryKind::MitigationEffect {
                    metric,
                    state,
                    action,
                };
                (kind, text)
            }
            None => (EntryKind::Detection { metric, state }, text),
        };
        self.log(kind, SYSTEM_ACTOR, text)
    }
}

/// Whether a False refusal reading says what the Refusal one does: when every request should
/// have been answered the two are the same count, and logging both only doubles the timeline.
pub(super) fn repeats_refusal(reading: &MetricReading, readings: &[MetricReading]) -> bool {
    reading.id == MetricId::FalseRefusal
        && readings.iter().any(|r| {
            r.id == MetricId::Refusal
                && (r.state, r.samples, r.now) == (reading.state, reading.samples, reading.now)
        })
}

/// Whether every watched metric is back to ok. A metric no recent call measures (the kill
/// switch's fallback retrieves no context) has stopped failing too, but only while the feature
/// still answers: a mitigation that makes calls fail or refuse also leaves them unmeasured.
pub(super) fn has_recovered(readings: &[MetricReading], watched: &[MetricId]) -> bool {
    let answering = readings
        .iter()
        .any(|r| r.id == MetricId::LatencyP50 && r.samples > 0)
        && !readings.iter().any(|r| {
            (r.id.family() == Family::Transport || r.id == MetricId::Refusal) && r.state.is_alarm()
        });
    readings
        .iter()
        .filter(|r| watched.contains(&r.id))
        .all(|r| r.state == MetricState::Ok || (r.samples == 0 && answering))
}

/// "21.8% vs 4.0% baseline (+17.8 ±4.1 pts)" or "5.9 s vs 1.9 s baseline (×3.1)".
pub fn describe(reading: &MetricReading) -> String {
    let mut text = describe_service(reading);
    for slice in &reading.slices {
        let (Some(now), Some(base)) = (slice.now, slice.baseline) else {
            continue;
        };
        let values = if reading.id.measure() == Measure::Rate {
            format!(
                "{:.1}% vs {:.1}% baseline ({:+.1} pts)",
                now * 100.0,
                base * 100.0,
                (now - base) * 100.0
            )
        } else {
            format!("{:.1} s vs {:.1} s baseline", now / 1000.0, base / 1000.0)
        };
        text.push_str(&format!("; on {}: {values}", slice.name));
    }
    text
}

/// The metric over the whole service.
pub(super) fn describe_service(reading: &MetricReading) -> String {
    if reading.samples == 0 && reading.baseline.is_some() {
        return "no longer measured: no recent call carries it".into();
    }
    let (Some(now), Some(base)) = (reading.now, reading.baseline) else {
        return "not enough data".into();
    };
    if matches!(
        reading.id,
        MetricId::LatencyP50 | MetricId::LatencyP95 | MetricId::LatencyP99
    ) {
        return format!(
            "{:.1} s vs {:.1} s baseline (×{:.1})",
            now / 1000.0,
            base / 1000.0,
            now / base.max(1.0)
        );
    }
    let delta = (now - base) * 100.0;
    let ci = reading
        .half_width
        .map(|h| format!(" ±{:.1}", h * 100.0))
        .unwrap_or_default();
    format!(
        "{:.1}% vs {:.1}% baseline ({delta:+.1}{ci} pts)",
        now * 100.0,
        base * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(id: MetricId, state: MetricState, samples: u64) -> MetricReading {
        MetricReading {
            id,
            now: None,
            last_minute: None,
            last_quarter_hour: None,
            baseline: Some(0.04),
            delta: None,
            half_width: None,
            samples,
            state,
            service_state: state,
            rule: None,
            change_onset: None,
            z: None,
            trend: Vec::new(),
            slices: Vec::new(),
        }
    }

    /// After a mitigation: Grounded, the watched metric, is no longer measured.
    fn after(refusal: MetricState, errors: MetricState, answered: u64) -> Vec<MetricReading> {
        vec![
            reading(MetricId::Grounded, MetricState::FewSamples, 0),
            reading(MetricId::Refusal, refusal, 300),
            reading(MetricId::Errors, errors, 300),
            reading(MetricId::LatencyP50, MetricState::Ok, answered),
        ]
    }

    #[test]
    fn an_unmeasured_metric_recovers_only_while_the_feature_still_answers() {
        let watched = [MetricId::Grounded];
        let ok = MetricState::Ok;
        assert!(has_recovered(&after(ok, ok, 300), &watched));
        assert!(
            !has_recovered(&after(MetricState::Critical, ok, 300), &watched),
            "refusing"
        );
        assert!(
            !has_recovered(&after(ok, MetricState::Critical, 300), &watched),
            "failing"
        );
        assert!(
            !has_recovered(&after(ok, ok, 0), &watched),
            "nothing succeeds"
        );
    }

    #[test]
    fn a_false_refusal_alarm_equal_to_the_refusal_alarm_is_not_logged_twice() {
        let refusal = reading(MetricId::Refusal, MetricState::Critical, 300);
        let mut false_refusal = reading(MetricId::FalseRefusal, MetricState::Critical, 300);
        let refusals = std::slice::from_ref(&refusal);
        assert!(repeats_refusal(&false_refusal, refusals));
        false_refusal.samples = 240;
        assert!(!repeats_refusal(&false_refusal, refusals));
        assert!(!repeats_refusal(&refusal, refusals));
    }

    #[test]
    fn a_measured_metric_recovers_when_it_is_ok_again() {
        let mut readings = after(MetricState::Ok, MetricState::Ok, 300);
        readings[1] = reading(MetricId::Refusal, MetricState::Warn, 300);
        assert!(!has_recovered(&readings, &[MetricId::Refusal]));
        readings[1].state = MetricState::Ok;
        assert!(has_recovered(&readings, &[MetricId::Refusal]));
    }

    /// A cockpit with a declared incident, its clock at `at`.
    fn cockpit_with_incident(at: DateTime<Utc>) -> App {
        let settings = crate::app::Settings::for_tests();
        let engine = crate::engine::Engine::new(
            crate::engine::EngineConfig::default(),
            crate::engine::signals::schema::SchemaRegistry::default(),
        );
        let mut app = App::new(settings, engine, at);
        app.now = Some(at);
        app.declare("Grounded answers").expect("declared");
        app
    }

    #[test]
    fn a_metric_crossing_its_limit_back_and_forth_is_logged_as_one_flapping_run() {
        let start: DateTime<Utc> = "2026-03-14T14:00:00Z".parse().unwrap();
        let mut app = cockpit_with_incident(start);
        let before = app.timeline.len();
        // Half-minute states: warn, 6 min ok (its recovery held 5 min), warn again, then a flip
        // every minute for 20 min, then 16 min ok.
        let mut states = vec![MetricState::Warn];
        states.extend([MetricState::Ok; 12]);
        for minute in 0..20 {
            let state = if minute % 2 == 0 {
                MetricState::Warn
            } else {
                MetricState::Ok
            };
            states.extend([state; 2]);
        }
        states.extend([MetricState::Ok; 32]);
        let flips = states.windows(2).filter(|w| w[0] != w[1]).count();
        for (i, state) in states.into_iter().enumerate() {
            let now = start + Duration::seconds(30 * i as i64);
            app.now = Some(now);
            app.assessment = Some(crate::engine::Assessment {
                at: now,
                metrics: vec![reading(MetricId::Grounded, state, 300)],
                baseline: None,
                episode: None,
                triage: None,
                violations: Vec::new(),
                similarity: None,
                input_drift: None,
            });
            app.log_metric_states(now);
        }
        let logged: Vec<&str> = app.timeline[before..]
            .iter()
            .map(|l| l.entry.text.as_str())
            .collect();
        assert_eq!(logged.len(), 4, "{logged:#?}");
        assert!(logged[0].starts_with("Grounded warn:"));
        assert!(logged[1].starts_with("Grounded back to ok:"));
        assert!(logged[2].starts_with("Grounded warn again 1 min after it recovered: flapping"));
        assert!(
            logged[3].starts_with(&format!(
                "Grounded flapped {flips}× between 14:00 and 14:25 UTC, then held ok for 15 min"
            )),
            "{}",
            logged[3]
        );
    }
}
