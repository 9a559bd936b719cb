//! Mitigations against the embedded simulator: the simulator task applies them and reports each
//! stage as a `Mitigation` action.

use tokio::sync::mpsc;

use super::Stopped;
use crate::model::MitigationPlan;
use crate::sources::simulated::SimCommand;

pub struct SimulatorActuator {
    commands: mpsc::UnboundedSender<SimCommand>,
    dry_run: bool,
}

impl SimulatorActuator {
    pub fn new(commands: mpsc::UnboundedSender<SimCommand>, dry_run: bool) -> Self {
        Self { commands, dry_run }
    }

    /// Asks the simulator to apply a confirmed plan, or with `--dry-run` to say what it would
    /// do.
    pub fn apply(&self, plan: MitigationPlan) -> Result<(), Stopped> {
        let command = if self.dry_run {
            SimCommand::DryRun(plan)
        } else {
            SimCommand::Apply(plan)
        };
        self.commands
            .send(command)
            .map_err(|_| Stopped("the simulator"))
    }
}
