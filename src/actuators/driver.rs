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
    requests: mpsc::UnboundedSender<(MitigationPlan, Option<String>)>,
}

impl DriverHandle {
    /// Queues a confirmed plan for an incident; an error means the driver has stopped.
    pub fn apply(&self, plan: MitigationPlan, incident: Option<String>) -> Result<(), String> {
        self.requests
            .send((plan, incident))
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
    mut requests: mpsc::UnboundedReceiver<(MitigationPlan, Option<String>)>,
) {
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick() => {}
            request = requests.recv() => {
                let Some((plan, incident)) = request else { return };
                for actuator in &actuators {
                    actuator.set_incident(incident.clone());
                }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A backend whose every step answers as told, and which counts its writes.
    struct Scripted {
        read: Result<MitigationPlan, String>,
        apply: Result<String, String>,
        verify: Result<String, String>,
        can_verify: bool,
        writes: Arc<AtomicU32>,
    }

    fn plan() -> MitigationPlan {
        MitigationPlan {
            target: "flag support-ai".into(),
            from: "on".into(),
            to: "off".into(),
            from_id: "on".into(),
            to_id: "off".into(),
            ..MitigationPlan::new(MitigationKind::KillSwitch, "scripted")
        }
    }

    fn scripted() -> Scripted {
        Scripted {
            read: Ok(plan()),
            apply: Ok("POST …/off → 200 OK".into()),
            verify: Ok("flag support-ai is off".into()),
            can_verify: true,
            writes: Arc::default(),
        }
    }

    impl Actuator for Scripted {
        fn kind(&self) -> MitigationKind {
            MitigationKind::KillSwitch
        }
        fn backend(&self) -> &'static str {
            "scripted"
        }
        async fn read(&self) -> Result<MitigationPlan, String> {
            self.read.clone()
        }
        fn preview(&self, plan: &MitigationPlan) -> String {
            format!("POST /{}", plan.to_id)
        }
        async fn apply(&self, _: &MitigationPlan) -> Result<String, String> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.apply.clone()
        }
        async fn verify(&self, _: &MitigationPlan) -> Result<String, String> {
            self.verify.clone()
        }
        fn can_verify(&self) -> bool {
            self.can_verify
        }
        fn revert(&self, applied: &MitigationPlan) -> Option<MitigationPlan> {
            Some(MitigationPlan {
                undo: true,
                ..applied.clone()
            })
        }
    }

    /// Everything the driver reports for one confirmed plan, up to the plans it reads after, and
    /// how many writes the backend saw.
    async fn run_one(actuator: Scripted, dry_run: bool) -> (Vec<Action>, u32) {
        let writes = actuator.writes.clone();
        let (actions, mut received) = mpsc::unbounded_channel();
        let handle = spawn(vec![actuator], Vec::new(), dry_run, actions);
        let Some(Action::PlansRead(first)) = received.recv().await else {
            panic!("the state is read first");
        };
        handle.apply(first[0].clone(), None).unwrap();
        let mut reports = Vec::new();
        loop {
            match received.recv().await.unwrap() {
                Action::PlansRead(_) => break,
                report => reports.push(report),
            }
        }
        (reports, writes.load(Ordering::SeqCst))
    }

    fn stages_of(reports: Vec<Action>) -> Vec<MitigationStage> {
        reports
            .into_iter()
            .map(|r| match r {
                Action::Mitigation(stage) => stage,
                other => panic!("not a stage: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_verified_mitigation_reports_applied_then_verified_with_its_undo() {
        let (reports, writes) = run_one(scripted(), false).await;
        assert_eq!(writes, 1);
        let stages = stages_of(reports);
        assert_eq!(stages.len(), 2);
        assert_eq!(
            stages[0],
            MitigationStage::Applied {
                answer: "POST …/off → 200 OK".into()
            }
        );
        let MitigationStage::Verified { read_back, undo } = &stages[1] else {
            panic!("verified: {stages:?}");
        };
        assert_eq!(read_back, "flag support-ai is off");
        assert!(undo.as_ref().is_some_and(|u| u.undo));
    }

    #[tokio::test]
    async fn a_refused_write_fails_at_once_and_a_disagreeing_read_back_fails_after_applying() {
        let refused = Scripted {
            apply: Err("Unleash answered HTTP 500: boom".into()),
            ..scripted()
        };
        let (reports, writes) = run_one(refused, false).await;
        assert_eq!(writes, 1, "a failed write is not retried");
        let stages = stages_of(reports);
        assert_eq!(
            stages,
            [MitigationStage::Failed {
                reason: "Unleash answered HTTP 500: boom".into()
            }]
        );
        let disagreeing = Scripted {
            verify: Err("flag support-ai is still on".into()),
            ..scripted()
        };
        let stages = stages_of(run_one(disagreeing, false).await.0);
        assert!(matches!(stages[0], MitigationStage::Applied { .. }));
        assert_eq!(
            stages[1],
            MitigationStage::Failed {
                reason: "applied, but the read-back failed: flag support-ai is still on".into()
            }
        );
    }

    #[tokio::test]
    async fn a_dry_run_sends_nothing_and_an_unreadable_backend_is_sent_unverified() {
        let dry = scripted();
        let (reports, writes) = run_one(dry, true).await;
        assert_eq!(writes, 0);
        let stages = stages_of(reports);
        assert_eq!(
            stages,
            [MitigationStage::DryRun {
                request: "POST /off".into()
            }]
        );
        let webhook = Scripted {
            can_verify: false,
            ..scripted()
        };
        let stages = stages_of(run_one(webhook, false).await.0);
        assert!(matches!(
            &stages[1],
            MitigationStage::Unverified { why, undo: Some(_) } if why.contains("cannot be read back")
        ));
    }

    #[tokio::test]
    async fn a_backend_that_cannot_be_read_shows_why_and_unconfigured_kinds_say_so() {
        let down = Scripted {
            read: Err("Unleash http://127.0.0.1:9/: connection refused".into()),
            ..scripted()
        };
        let unconfigured = vec![MitigationPlan::unavailable(
            MitigationKind::ModelPin,
            "none",
            "not configured",
        )];
        let plans = read_all(&[down], &unconfigured).await;
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].kind, MitigationKind::ModelPin);
        assert_eq!(
            plans[1].unavailable.as_deref(),
            Some("Unleash http://127.0.0.1:9/: connection refused")
        );
        assert_eq!(plans[1].backend, "scripted");
    }
}
