//! Tokio-side handles that change the world when the app asks for a mitigation.
//!
//! Every backend implements [`Actuator`]: a read of the current state as a plan, the exact
//! request for `--dry-run`, one apply (never retried), a read-back, and the plan that undoes it.

pub mod simulator;
pub mod unleash;

use std::future::Future;

use crate::model::{MitigationKind, MitigationPlan};

/// One mitigation on one backend.
pub trait Actuator: Send + Sync {
    fn kind(&self) -> MitigationKind;

    /// Reads the backend's current state as the plan the mitigation would carry out now. A
    /// backend that answers but cannot act (no earlier version, flag missing) gives a plan with
    /// `unavailable` set; Err is for a backend that cannot be read at all.
    fn read(&self) -> impl Future<Output = Result<MitigationPlan, String>> + Send;

    /// Exactly what `apply` would send for the plan: method, URL and body, or the file and its
    /// new content. Never a secret.
    fn preview(&self, plan: &MitigationPlan) -> String;

    /// Carries out the plan once; Ok is the backend's answer, e.g. "POST /api/… → 200 OK".
    /// Never retried: a write that failed may still have happened.
    fn apply(&self, plan: &MitigationPlan) -> impl Future<Output = Result<String, String>> + Send;

    /// Reads the state back after `apply`: Ok describes it when it agrees with `plan.to_id`, Err
    /// says how it disagrees or why it could not be read.
    fn verify(&self, plan: &MitigationPlan) -> impl Future<Output = Result<String, String>> + Send;

    /// Whether `verify` can read the state back; a webhook cannot, and its answer is all there is.
    fn can_verify(&self) -> bool {
        true
    }

    /// The plan that puts back what `applied` changed (`undo` set, `from` and `to` swapped), or
    /// None when it cannot be put back.
    fn revert(&self, applied: &MitigationPlan) -> Option<MitigationPlan>;
}
