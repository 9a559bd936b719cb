//! Mitigations against the embedded simulator: the simulator task applies them and reports each
//! stage as a `Mitigation` action.

use tokio::sync::mpsc;

use crate::model::MitigationPlan;
use crate::sources::simulator::SimCommand;

pub struct SimulatorActuator {
    commands: mpsc::UnboundedSender<SimCommand>,
}

impl SimulatorActuator {
    pub fn new(commands: mpsc::UnboundedSender<SimCommand>) -> Self {
        Self { commands }
    }

    /// Asks the simulator to apply a confirmed plan; an error means the simulator has stopped.
    pub fn apply(&self, plan: MitigationPlan) -> Result<(), String> {
        self.commands
            .send(SimCommand::Apply(plan))
            .map_err(|_| "the simulator has stopped".to_string())
    }
}
