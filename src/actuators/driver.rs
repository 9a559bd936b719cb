//! The task that carries out mitigations on the configured backends: it reads their state into
//! plans on a schedule and after every action, and reports each confirmed plan's stages (applied,
//! verified by read-back, or failed) to the app. One at a time, so two writes never race.

use std::time::Duration;

use tokio::sync::mpsc;

use super::Actuator;
use crate::app::Action;
use crate::model::{MitigationKind, MitigationPlan, MitigationStage};

/// How often the backends' state is read again when nothing is being done, so a change made
/// elsewhere (a deploy, a colleague's rollback) shows in the pane.
pub const REFRESH: Duration = Duration::from_secs(15);

/// Sends confirmed plans to the driver task.
#[derive(Clone)]
pub struct DriverHandle {
    requests: mpsc::UnboundedSender<MitigationPlan>,
}

impl DriverHandle {
    /// Queues a confirmed plan; an error means the driver has stopped.
    pub fn apply(&self, plan: MitigationPlan) -> Result<(), String> {
        self.requests
            .send(plan)
            .map_err(|_| "the mitigation backends' task has stopped".to_string())
    }
}

/// Starts the driver for `actuators`; kinds with none show `unconfigured`'s plans.
pub fn spawn<A: Actuator + 'static>(
    actuators: Vec<A>,
    unconfigured: Vec<MitigationPlan>,
    dry_run: bool,
    actions: mpsc::UnboundedSender<Action>,
) -> DriverHandle {
    let (requests, received) = mpsc::unbounded_channel();
    tokio::spawn(run(actuators, unconfigured, dry_run, actions, received));
    DriverHandle { requests }
}

async fn run<A: Actuator>(
    actuators: Vec<A>,
    unconfigured: Vec<MitigationPlan>,
    dry_run: bool,
    actions: mpsc::UnboundedSender<Action>,
    mut requests: mpsc::UnboundedReceiver<MitigationPlan>,
) {
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick() => {}
            request = requests.recv() => {
                let Some(plan) = request else { return };
                let last = carry_out(&actuators, &plan, dry_run, &actions).await;
                if last.is_none_or(|stage| actions.send(Action::Mitigation(stage)).is_err()) {
                    return;
                }
                refresh.reset();
            }
        }
        let plans = read_all(&actuators, &unconfigured).await;
        if actions.send(Action::PlansRead(plans)).is_err() {
            return;
        }
    }
}

/// Every kind's plan: read from its backend, or why it cannot be.
pub async fn read_all<A: Actuator>(
    actuators: &[A],
    unconfigured: &[MitigationPlan],
) -> Vec<MitigationPlan> {
    let mut plans = Vec::new();
    for kind in MitigationKind::ALL {
        match actuators.iter().find(|a| a.kind() == kind) {
            Some(actuator) => plans.push(actuator.read().await.unwrap_or_else(|error| {
                MitigationPlan::unavailable(kind, actuator.backend(), &error)
            })),
            None => plans.extend(unconfigured.iter().find(|p| p.kind == kind).cloned()),
        }
    }
    plans
}

/// Carries out one confirmed plan; the `Applied` stage is sent as soon as it happens, the
/// final one is returned. Nothing is retried: a write that failed may have happened.
async fn carry_out<A: Actuator>(
    actuators: &[A],
    plan: &MitigationPlan,
    dry_run: bool,
    actions: &mpsc::UnboundedSender<Action>,
) -> Option<MitigationStage> {
    let Some(actuator) = actuators.iter().find(|a| a.kind() == plan.kind) else {
        return Some(MitigationStage::Failed {
            reason: format!("no backend is configured for {}", plan.kind),
        });
    };
    tracing::info!(plan = %plan.summary(), backend = plan.backend, dry_run, "mitigation confirmed");
    if dry_run {
        return Some(MitigationStage::DryRun {
            request: actuator.preview(plan),
        });
    }
    let answer = match actuator.apply(plan).await {
        Ok(answer) => answer,
        Err(reason) => {
            tracing::warn!(reason, "mitigation failed");
            return Some(MitigationStage::Failed { reason });
        }
    };
    tracing::info!(answer, "mitigation applied");
    if actions
        .send(Action::Mitigation(MitigationStage::Applied { answer }))
        .is_err()
    {
        return None;
    }
    let undo = (!plan.undo).then(|| actuator.revert(plan)).flatten();
    if !actuator.can_verify() {
        return Some(MitigationStage::Unverified {
            why: format!(
                "{} cannot be read back; its answer is the only evidence",
                plan.backend
            ),
            undo,
        });
    }
    Some(match actuator.verify(plan).await {
        Ok(read_back) => {
            tracing::info!(read_back, "mitigation verified");
            MitigationStage::Verified { read_back, undo }
        }
        Err(reason) => {
            tracing::warn!(reason, "mitigation read-back failed");
            MitigationStage::Failed {
                reason: format!("applied, but the read-back failed: {reason}"),
            }
        }
    })
}
