//! The task that carries out mitigations on the configured backends: it reads their state into
//! plans on a schedule and after every action, and reports each confirmed plan's stages (applied,
//! verified by read-back, or failed) to the app. One at a time, so two writes never race; a
//! confirmed plan never waits for a refresh, which it cancels (reads are only reads).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Actuator, ActuatorError, ActuatorEvent, Applied, Stopped};
use crate::model::{MitigationKind, MitigationPlan, MitigationStage};
use crate::outbox::Report;

/// How often the backends' state is read again when nothing is being done, so a change made
/// elsewhere (a deploy, a colleague's rollback) shows in the pane.
pub const REFRESH: Duration = Duration::from_secs(15);

/// How long one read, apply or read-back may take in all, as a multiple of the per-request
/// timeout: a read may take several requests, and a server may page forever.
const DEADLINE_REQUESTS: u32 = 3;

type Request = (MitigationPlan, Option<String>);

/// Sends confirmed plans to the driver task.
#[derive(Clone)]
pub struct DriverHandle {
    requests: mpsc::UnboundedSender<Request>,
}

impl DriverHandle {
    /// Queues a confirmed plan for an incident.
    pub fn apply(&self, plan: MitigationPlan, incident: Option<String>) -> Result<(), Stopped> {
        self.requests
            .send((plan, incident))
            .map_err(|_| Stopped("the mitigation backends' task"))
    }
}

/// The backends, and how they are driven.
pub struct Driver<A> {
    pub actuators: Vec<A>,
    /// The plans of the kinds no backend carries out, saying why.
    pub unconfigured: Vec<MitigationPlan>,
    pub dry_run: bool,
    /// The per-request timeout the backends were built with.
    pub timeout: Duration,
}

/// Starts the driver; its reports go to `actions`.
pub fn spawn<A: Actuator + 'static, M: From<ActuatorEvent> + Send + 'static>(
    driver: Driver<A>,
    actions: mpsc::UnboundedSender<M>,
) -> DriverHandle {
    let (requests, received) = mpsc::unbounded_channel();
    tokio::spawn(run(driver, actions, received));
    DriverHandle { requests }
}

async fn run<A: Actuator, M: From<ActuatorEvent>>(
    driver: Driver<A>,
    actions: mpsc::UnboundedSender<M>,
    mut requests: mpsc::UnboundedReceiver<Request>,
) {
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.tick().await;
    loop {
        // Read every backend, unless a confirmed plan comes first: it goes ahead of the read.
        let confirmed = tokio::select! {
            biased;
            request = requests.recv() => Some(request),
            plans = driver.read_all() => {
                if actions.report(ActuatorEvent::PlansRead(plans)).is_err() {
                    return;
                }
                // The next read is a whole period after this one ended, however long it took.
                refresh.reset();
                None
            }
        };
        let confirmed = match confirmed {
            Some(request) => request,
            None => tokio::select! {
                _ = refresh.tick() => continue,
                request = requests.recv() => request,
            },
        };
        let Some((plan, incident)) = confirmed else {
            return;
        };
        let last = driver.carry_out(&plan, incident.as_deref(), &actions).await;
        if last.is_none_or(|stage| actions.report(ActuatorEvent::Mitigation(stage)).is_err()) {
            return;
        }
        refresh.reset();
    }
}

impl<A: Actuator> Driver<A> {
    fn deadline(&self) -> Duration {
        self.timeout * DEADLINE_REQUESTS
    }

    /// `work`, or an error saying what did not finish in time.
    async fn within<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, ActuatorError>>,
    ) -> Result<T, ActuatorError> {
        let deadline = self.deadline();
        tokio::time::timeout(deadline, work)
            .await
            .unwrap_or_else(|_| {
                Err(ActuatorError::Unreachable(format!(
                    "{what} did not finish within {} ms",
                    deadline.as_millis()
                )))
            })
    }

    /// Every kind's plan: read from its backend, or why it cannot be.
    pub async fn read_all(&self) -> Vec<MitigationPlan> {
        let mut plans = Vec::new();
        for kind in MitigationKind::ALL {
            match self.actuators.iter().find(|a| a.kind() == kind) {
                Some(actuator) => plans.push(
                    self.within("reading the state", actuator.read())
                        .await
                        .unwrap_or_else(|error| {
                            MitigationPlan::unavailable(
                                kind,
                                actuator.backend(),
                                &error.to_string(),
                            )
                        }),
                ),
                None => plans.extend(self.unconfigured.iter().find(|p| p.kind == kind).cloned()),
            }
        }
        plans
    }

    /// Carries out one confirmed plan for an incident; the `Applied` stage is sent as soon as it
    /// happens, the final one is returned. Nothing is retried: a write that failed may have
    /// happened. Errors become the `Failed` stage's reason here, at the edge of the core.
    async fn carry_out(
        &self,
        plan: &MitigationPlan,
        incident: Option<&str>,
        actions: &mpsc::UnboundedSender<impl From<ActuatorEvent>>,
    ) -> Option<MitigationStage> {
        let Some(actuator) = self.actuators.iter().find(|a| a.kind() == plan.kind) else {
            return Some(MitigationStage::Failed {
                reason: format!("no backend is configured for {}", plan.kind),
            });
        };
        tracing::info!(plan = %plan.summary(), backend = plan.backend, dry_run = self.dry_run, "mitigation confirmed");
        if self.dry_run {
            return Some(MitigationStage::DryRun {
                request: actuator.preview(plan, incident),
            });
        }
        let applied = self
            .within(
                "the change (it may or may not have been made: read the state before trying again)",
                actuator.apply(plan, incident),
            )
            .await;
        let Applied { answer, undo } = match applied {
            Ok(applied) => applied,
            Err(error) => {
                let reason = error.to_string();
                tracing::warn!(reason, "mitigation failed");
                return Some(MitigationStage::Failed { reason });
            }
        };
        tracing::info!(answer, "mitigation applied");
        // The cockpit offers one undo: an undo is not undone in turn.
        let undo = undo.filter(|_| !plan.undo).map(Box::new);
        if actions
            .report(ActuatorEvent::Mitigation(MitigationStage::Applied {
                answer,
                undo,
            }))
            .is_err()
        {
            return None;
        }
        if !actuator.can_verify() {
            return Some(MitigationStage::Unverified {
                why: format!(
                    "{} cannot be read back; its answer is the only evidence",
                    plan.backend
                ),
            });
        }
        Some(
            match self.within("the read-back", actuator.verify(plan)).await {
                Ok(read_back) => {
                    tracing::info!(read_back, "mitigation verified");
                    MitigationStage::Verified { read_back }
                }
                Err(error) => {
                    let reason = error.to_string();
                    tracing::warn!(reason, "mitigation read-back failed");
                    MitigationStage::Failed {
                        reason: format!("applied, but the read-back failed: {reason}"),
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A backend whose every step answers as told, and which counts its writes.
    struct Scripted {
        read: Result<MitigationPlan, ActuatorError>,
        apply: Result<String, ActuatorError>,
        verify: Result<String, ActuatorError>,
        can_verify: bool,
        writes: Arc<AtomicU32>,
        /// The incident each apply was for.
        incidents: Arc<Mutex<Vec<Option<String>>>>,
        /// How long each read takes.
        read_takes: Duration,
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
            incidents: Arc::default(),
            read_takes: Duration::ZERO,
        }
    }

    impl Actuator for Scripted {
        fn kind(&self) -> MitigationKind {
            MitigationKind::KillSwitch
        }
        fn backend(&self) -> &'static str {
            "scripted"
        }
        async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
            tokio::time::sleep(self.read_takes).await;
            self.read.clone()
        }
        fn preview(&self, plan: &MitigationPlan, _: Option<&str>) -> String {
            format!("POST /{}", plan.to_id)
        }
        async fn apply(
            &self,
            plan: &MitigationPlan,
            incident: Option<&str>,
        ) -> Result<Applied, ActuatorError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.incidents
                .lock()
                .unwrap()
                .push(incident.map(str::to_owned));
            let answer = self.apply.clone()?;
            let undo = Some(MitigationPlan {
                undo: true,
                ..plan.clone()
            });
            Ok(Applied { answer, undo })
        }
        async fn verify(&self, _: &MitigationPlan) -> Result<String, ActuatorError> {
            self.verify.clone()
        }
        fn can_verify(&self) -> bool {
            self.can_verify
        }
    }

    fn driver(actuator: Scripted, dry_run: bool) -> Driver<Scripted> {
        Driver {
            actuators: vec![actuator],
            unconfigured: Vec::new(),
            dry_run,
            timeout: Duration::from_millis(100),
        }
    }

    /// Everything the driver reports for one confirmed plan, up to the plans it reads after, and
    /// how many writes the backend saw.
    async fn run_one(actuator: Scripted, dry_run: bool) -> (Vec<ActuatorEvent>, u32) {
        let writes = actuator.writes.clone();
        let (actions, mut received) = mpsc::unbounded_channel();
        let handle = spawn(driver(actuator, dry_run), actions);
        let Some(ActuatorEvent::PlansRead(first)) = received.recv().await else {
            panic!("the state is read first");
        };
        handle.apply(first[0].clone(), None).unwrap();
        let mut reports = Vec::new();
        loop {
            match received.recv().await.unwrap() {
                ActuatorEvent::PlansRead(_) => break,
                report => reports.push(report),
            }
        }
        (reports, writes.load(Ordering::SeqCst))
    }

    fn stages_of(reports: Vec<ActuatorEvent>) -> Vec<MitigationStage> {
        reports
            .into_iter()
            .map(|r| match r {
                ActuatorEvent::Mitigation(stage) => stage,
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
        let MitigationStage::Applied { undo, .. } = &stages[0] else {
            panic!("applied: {stages:?}");
        };
        assert!(
            undo.as_ref().is_some_and(|u| u.undo),
            "undoable once applied"
        );
        assert_eq!(
            stages[1],
            MitigationStage::Verified {
                read_back: "flag support-ai is off".into()
            }
        );
    }

    #[tokio::test]
    async fn the_incident_goes_with_the_plan_and_an_undo_offers_no_undo_in_turn() {
        let actuator = scripted();
        let incidents = actuator.incidents.clone();
        let (actions, mut received) = mpsc::unbounded_channel();
        let handle = spawn(driver(actuator, false), actions);
        let Some(ActuatorEvent::PlansRead(_)) = received.recv().await else {
            panic!("the state is read first");
        };
        let undo = MitigationPlan {
            undo: true,
            ..plan()
        };
        handle
            .apply(undo, Some("inc-20260101-0001".into()))
            .unwrap();
        let Some(ActuatorEvent::Mitigation(MitigationStage::Applied { undo, .. })) =
            received.recv().await
        else {
            panic!("the undo was applied");
        };
        assert_eq!(undo, None);
        assert_eq!(
            *incidents.lock().unwrap(),
            [Some("inc-20260101-0001".to_string())]
        );
    }

    #[tokio::test]
    async fn a_refused_write_fails_at_once_and_a_disagreeing_read_back_fails_after_applying() {
        let refused = Scripted {
            apply: Err(ActuatorError::Refused(
                "Unleash answered HTTP 500: boom".into(),
            )),
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
            verify: Err(ActuatorError::ReadBackDisagrees {
                found: "flag support-ai is still on".into(),
            }),
            ..scripted()
        };
        let stages = stages_of(run_one(disagreeing, false).await.0);
        assert!(matches!(stages[0], MitigationStage::Applied { .. }));
        assert_eq!(
            stages[1],
            MitigationStage::Failed {
                reason: "applied, but the read-back failed: read-back disagrees: flag support-ai \
                         is still on"
                    .into()
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
            MitigationStage::Unverified { why } if why.contains("cannot be read back")
        ));
    }

    #[tokio::test]
    async fn a_backend_that_cannot_be_read_shows_why_and_unconfigured_kinds_say_so() {
        let down = Scripted {
            read: Err(ActuatorError::Unreachable(
                "Unleash http://127.0.0.1:9/: connection refused".into(),
            )),
            ..scripted()
        };
        let unconfigured = vec![MitigationPlan::unavailable(
            MitigationKind::ModelPin,
            "none",
            "not configured",
        )];
        let plans = Driver {
            unconfigured,
            ..driver(down, false)
        }
        .read_all()
        .await;
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].kind, MitigationKind::ModelPin);
        assert_eq!(
            plans[1].unavailable.as_deref(),
            Some("Unleash http://127.0.0.1:9/: connection refused")
        );
        assert_eq!(plans[1].backend, "scripted");
    }

    #[tokio::test]
    async fn a_confirmed_plan_goes_ahead_of_a_slow_read() {
        let slow = Scripted {
            read_takes: Duration::from_millis(250),
            ..scripted()
        };
        let (actions, mut received) = mpsc::unbounded_channel();
        let handle = spawn(driver(slow, false), actions);
        let sent = std::time::Instant::now();
        handle.apply(plan(), None).unwrap();
        let Some(ActuatorEvent::Mitigation(MitigationStage::Applied { .. })) =
            received.recv().await
        else {
            panic!("the plan was applied before the read finished");
        };
        assert!(
            sent.elapsed() < Duration::from_millis(200),
            "{:?}",
            sent.elapsed()
        );
    }

    #[tokio::test]
    async fn a_read_that_never_ends_is_cut_at_the_deadline() {
        let stuck = Scripted {
            read_takes: Duration::from_secs(60),
            ..scripted()
        };
        let plans = driver(stuck, false).read_all().await;
        assert_eq!(
            plans[0].unavailable.as_deref(),
            Some("reading the state did not finish within 300 ms")
        );
    }
}
