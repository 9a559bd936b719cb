//! Tokio-side handles that change the world when the app asks for a mitigation.
//!
//! Every backend implements [`Actuator`]: a read of the current state as a plan, the exact
//! request for `--dry-run`, one apply (never retried) that gives the plan undoing it, and a
//! read-back. An actuator keeps nothing between calls: what apply needs of the read is in the plan.

pub mod configured;
pub mod driver;
mod error;
pub mod flagd;
pub mod langfuse;
pub mod phoenix;
mod registry;
pub mod simulator;
pub mod unleash;
pub mod webhook;

use std::future::Future;

use self::driver::DriverHandle;
pub use self::error::{ActuatorError, Stopped};
use self::simulator::SimulatorActuator;
use crate::model::{MitigationKind, MitigationPlan, MitigationStage};

/// What the mitigation backends report.
#[derive(Debug, Clone, PartialEq)]
pub enum ActuatorEvent {
    /// The backends' current state, read.
    PlansRead(Vec<MitigationPlan>),
    /// How the mitigation in flight is going: applied, then verified by read-back, or failed.
    Mitigation(MitigationStage),
}

/// Where the runtime sends the plan the user confirmed.
pub enum Mitigations {
    /// The demo's simulated control plane.
    Simulator(SimulatorActuator),
    /// The backends the config names, driven by their own task.
    Backends(DriverHandle),
}

impl Mitigations {
    /// Hands the plan over, with the incident it is for.
    pub fn apply(&self, plan: MitigationPlan, incident: Option<String>) -> Result<(), Stopped> {
        match self {
            Self::Simulator(simulator) => simulator.apply(plan),
            Self::Backends(driver) => driver.apply(plan, incident),
        }
    }
}

/// A change the backend accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The backend's answer, e.g. "POST /api/… → 200 OK".
    pub answer: String,
    /// The plan that puts back what was changed (`undo` set, `from` and `to` swapped), read from
    /// the state as written; None when it cannot be put back.
    pub undo: Option<MitigationPlan>,
}

/// One mitigation on one backend.
pub trait Actuator: Send + Sync {
    fn kind(&self) -> MitigationKind;

    /// The backend's name as plans show it, e.g. "unleash".
    fn backend(&self) -> &'static str;

    /// Reads the backend's current state as the plan the mitigation would carry out now. A
    /// backend that answers but cannot act (no earlier version, flag missing) gives a plan with
    /// `unavailable` set; Err is for a backend that cannot be read at all.
    fn read(&self) -> impl Future<Output = Result<MitigationPlan, ActuatorError>> + Send;

    /// Exactly what `apply` would send for the plan and the incident: method, URL and body, or
    /// the file and its new content. Never a secret.
    fn preview(&self, plan: &MitigationPlan, incident: Option<&str>) -> String;

    /// Carries out the plan once, for the incident (which a webhook names); Ok is the backend's
    /// answer and the undo. Never retried: a write that failed may still have happened.
    fn apply(
        &self,
        plan: &MitigationPlan,
        incident: Option<&str>,
    ) -> impl Future<Output = Result<Applied, ActuatorError>> + Send;

    /// Reads the state back after `apply`: Ok describes it when it agrees with `plan.to_id`, Err
    /// says how it disagrees or why it could not be read.
    fn verify(
        &self,
        plan: &MitigationPlan,
    ) -> impl Future<Output = Result<String, ActuatorError>> + Send;

    /// Whether `verify` can read the state back; a webhook cannot, and its answer is all there is.
    fn can_verify(&self) -> bool {
        true
    }
}
