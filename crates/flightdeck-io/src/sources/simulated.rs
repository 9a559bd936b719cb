//! The embedded simulator as a source: run on a virtual clock, applying the mitigations sent to it.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use tokio::sync::mpsc;

use super::SourceEvent;
use crate::actuators::ActuatorEvent;
use crate::model::{MitigationPlan, MitigationStage};
use crate::outbox::Deliver;
use crate::sim::{SimOutput, Simulator};

/// How often the simulator delivers a batch, in wall time.
const TICK: StdDuration = StdDuration::from_millis(100);

/// A request to the simulated control plane.
#[derive(Debug)]
pub enum SimCommand {
    Apply(MitigationPlan),
    /// Say what applying it would do, and change nothing.
    DryRun(MitigationPlan),
}

/// Advances the simulator `speed` times faster than the wall clock until the app goes away.
pub async fn run<M: From<SourceEvent> + From<ActuatorEvent> + Send>(
    mut sim: Simulator,
    speed: f64,
    actions: mpsc::Sender<M>,
    mut commands: mpsc::UnboundedReceiver<SimCommand>,
) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let step = Duration::milliseconds((TICK.as_millis() as f64 * speed) as i64);
    let mut plans = sim.plans();
    if actions
        .deliver(ActuatorEvent::PlansRead(plans.clone()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let delivered = tokio::select! {
            _ = ticker.tick() => {
                let until = sim.now() + step;
                let outputs = sim.advance_to(until);
                // A deploy changes what a rollback would do: re-read the state when it moves.
                let fresh = sim.plans();
                let replanned = fresh != plans;
                plans = fresh;
                deliver(&actions, until, outputs).await
                    && (!replanned || actions.deliver(ActuatorEvent::PlansRead(plans.clone())).await.is_ok())
            }
            Some(command) = commands.recv() => match command {
                SimCommand::DryRun(plan) => {
                    let request = format!("{}: {}", plan.operation, plan.summary());
                    actions.deliver(ActuatorEvent::Mitigation(MitigationStage::DryRun { request })).await.is_ok()
                }
                SimCommand::Apply(plan) => {
                    tracing::info!(plan = %plan.summary(), "applying mitigation to the simulator");
                    let (change, stages) = sim.mitigate(&plan);
                    let changes = change.map(|c| SimOutput::Change(Box::new(c))).into_iter().collect();
                    let mut sent = deliver(&actions, sim.now(), changes).await;
                    for stage in stages {
                        sent = sent && actions.deliver(ActuatorEvent::Mitigation(stage)).await.is_ok();
                    }
                    plans = sim.plans();
                    sent && actions.deliver(ActuatorEvent::PlansRead(plans.clone())).await.is_ok()
                }
            },
        };
        if !delivered {
            return;
        }
    }
}

/// Sends a batch; `false` once the app has stopped listening.
async fn deliver(
    actions: &mpsc::Sender<impl From<SourceEvent> + Send>,
    now: chrono::DateTime<Utc>,
    outputs: Vec<SimOutput>,
) -> bool {
    let (calls, changes) = SimOutput::split(outputs);
    actions
        .deliver(SourceEvent::Observed {
            now,
            wall: Utc::now(),
            calls,
            changes,
        })
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MitigationKind;
    use crate::sim::scenario::Scenario;

    /// Both kinds of report on one channel, in the order they were sent.
    #[derive(Debug)]
    enum Reported {
        Source,
        Actuator(ActuatorEvent),
    }

    impl From<SourceEvent> for Reported {
        fn from(_: SourceEvent) -> Self {
            Self::Source
        }
    }

    impl From<ActuatorEvent> for Reported {
        fn from(event: ActuatorEvent) -> Self {
            Self::Actuator(event)
        }
    }

    #[tokio::test]
    async fn a_dry_run_says_what_would_change_and_changes_nothing() {
        let scenario = Scenario::builtin("prompt-regression").unwrap().unwrap();
        let sim = Simulator::new(scenario, 42);
        let (actions, mut received) = mpsc::channel(16);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sim, 1.0, actions, commands_rx));
        let Some(Reported::Actuator(ActuatorEvent::PlansRead(plans))) = received.recv().await
        else {
            panic!("the plans come first");
        };
        let kill = plans
            .iter()
            .find(|p| p.kind == MitigationKind::KillSwitch)
            .unwrap()
            .clone();
        commands.send(SimCommand::DryRun(kill)).unwrap();
        loop {
            match received.recv().await.unwrap() {
                Reported::Actuator(ActuatorEvent::Mitigation(MitigationStage::DryRun {
                    request,
                })) => {
                    assert!(request.contains("on (AI) → off (fallback)"), "{request}");
                    break;
                }
                Reported::Actuator(ActuatorEvent::Mitigation(other)) => {
                    panic!("a dry run applied something: {other:?}")
                }
                Reported::Actuator(ActuatorEvent::PlansRead(_)) => panic!("the state changed"),
                Reported::Source => {}
            }
        }
    }
}
