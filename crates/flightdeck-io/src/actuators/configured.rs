//! The mitigation backends a `flightdeck.toml` names, built once at start: each
//! `[mitigations.*]` joined with the `[actuators.*]` connection it uses.

use super::{Actuator, ActuatorError, Applied};
use super::{flagd, langfuse, phoenix, unleash, webhook};
use crate::config::actuators::{KillSwitchConfig, ModelPinConfig, PromptRollbackConfig};
use crate::config::file::ConfigFile;
use crate::model::{MitigationKind, MitigationPlan};

/// One configured mitigation on its backend.
pub enum Configured {
    UnleashKillSwitch(unleash::KillSwitch),
    UnleashModelPin(unleash::ModelPin),
    PhoenixPromptTag(phoenix::PromptTag),
    LangfusePromptLabel(langfuse::PromptLabel),
    FlagdKillSwitch(flagd::KillSwitch),
    Webhook(webhook::Webhook),
}

/// Calls the same method on whichever backend it is.
macro_rules! each {
    ($self:ident, $backend:ident => $call:expr) => {
        match $self {
            Configured::UnleashKillSwitch($backend) => $call,
            Configured::UnleashModelPin($backend) => $call,
            Configured::PhoenixPromptTag($backend) => $call,
            Configured::LangfusePromptLabel($backend) => $call,
            Configured::FlagdKillSwitch($backend) => $call,
            Configured::Webhook($backend) => $call,
        }
    };
}

impl Actuator for Configured {
    fn kind(&self) -> MitigationKind {
        each!(self, a => a.kind())
    }

    fn backend(&self) -> &'static str {
        each!(self, a => a.backend())
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        each!(self, a => a.read().await)
    }

    fn preview(&self, plan: &MitigationPlan, incident: Option<&str>) -> String {
        each!(self, a => a.preview(plan, incident))
    }

    async fn apply(
        &self,
        plan: &MitigationPlan,
        incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        each!(self, a => a.apply(plan, incident).await)
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        each!(self, a => a.verify(plan).await)
    }

    fn can_verify(&self) -> bool {
        each!(self, a => a.can_verify())
    }
}

fn zero_timeout() -> ActuatorError {
    ActuatorError::Misconfigured("[actuators] timeout_ms must be at least 1".into())
}

/// The configured backends, and for each kind without one a plan saying how to configure it.
/// An error names the section that is wrong or missing.
pub fn from_config(
    config: &ConfigFile,
    actor: &str,
) -> Result<(Vec<Configured>, Vec<MitigationPlan>), ActuatorError> {
    if config.actuators.timeout_ms == 0 {
        return Err(zero_timeout());
    }
    let mut built = Vec::new();
    let mut unconfigured = Vec::new();
    for kind in MitigationKind::ALL {
        match build(config, kind, actor) {
            Some(backend) => built.push(backend?),
            None => unconfigured.push(MitigationPlan::unavailable(
                kind,
                "none",
                &format!(
                    "not configured: add [mitigations.{}] to flightdeck.toml",
                    kind.key()
                ),
            )),
        }
    }
    Ok((built, unconfigured))
}

/// The backend that carries out one kind of mitigation, None when the config names none; an
/// error names the section that is wrong or missing.
pub fn build(
    config: &ConfigFile,
    kind: MitigationKind,
    actor: &str,
) -> Option<Result<Configured, ActuatorError>> {
    let timeout_ms = config.actuators.timeout_ms;
    let mitigations = &config.mitigations;
    let built = match kind {
        MitigationKind::PromptRollback => {
            prompt_rollback(config, mitigations.prompt_rollback.as_ref()?, actor)
        }
        MitigationKind::ModelPin => model_pin(config, mitigations.model_pin.as_ref()?, actor),
        MitigationKind::KillSwitch => kill_switch(config, mitigations.kill_switch.as_ref()?, actor),
    };
    Some(if timeout_ms == 0 {
        Err(zero_timeout())
    } else {
        built
    })
}

fn prompt_rollback(
    config: &ConfigFile,
    rollback: &PromptRollbackConfig,
    actor: &str,
) -> Result<Configured, ActuatorError> {
    let timeout_ms = config.actuators.timeout_ms;
    Ok(match rollback {
        PromptRollbackConfig::Phoenix { .. } => {
            Configured::PhoenixPromptTag(phoenix::PromptTag::from_config(
                connection(&config.actuators.phoenix, "prompt_rollback", "phoenix")?,
                rollback,
                timeout_ms,
            )?)
        }
        PromptRollbackConfig::Langfuse { .. } => {
            Configured::LangfusePromptLabel(langfuse::PromptLabel::from_config(
                connection(&config.actuators.langfuse, "prompt_rollback", "langfuse")?,
                rollback,
                timeout_ms,
            )?)
        }
        PromptRollbackConfig::Webhook { target, production } => webhook_for(
            config,
            "prompt_rollback",
            webhook::WebhookAction::PromptRollback {
                target: target.clone(),
            },
            *production,
            actor,
        )?,
    })
}

fn model_pin(
    config: &ConfigFile,
    pin: &ModelPinConfig,
    actor: &str,
) -> Result<Configured, ActuatorError> {
    Ok(match pin {
        ModelPinConfig::Unleash { .. } => {
            Configured::UnleashModelPin(unleash::ModelPin::from_config(
                connection(&config.actuators.unleash, "model_pin", "unleash")?,
                pin,
                config.actuators.timeout_ms,
            )?)
        }
        ModelPinConfig::Webhook {
            target,
            model,
            production,
        } => webhook_for(
            config,
            "model_pin",
            webhook::WebhookAction::ModelPin {
                target: target.clone(),
                model: model.clone(),
            },
            *production,
            actor,
        )?,
    })
}

fn kill_switch(
    config: &ConfigFile,
    kill: &KillSwitchConfig,
    actor: &str,
) -> Result<Configured, ActuatorError> {
    Ok(match kill {
        KillSwitchConfig::Unleash { .. } => {
            Configured::UnleashKillSwitch(unleash::KillSwitch::from_config(
                connection(&config.actuators.unleash, "kill_switch", "unleash")?,
                kill,
                config.actuators.timeout_ms,
            )?)
        }
        KillSwitchConfig::Flagd { .. } => {
            let file = connection(&config.actuators.flagd, "kill_switch", "flagd")?;
            let path = config.resolve(&file.file);
            let path = std::path::absolute(&path).map_err(|e| {
                ActuatorError::Misconfigured(format!(
                    "[actuators.flagd] file {}: {e}",
                    path.display()
                ))
            })?;
            Configured::FlagdKillSwitch(flagd::KillSwitch::from_config(path, kill)?)
        }
        KillSwitchConfig::Webhook { target, production } => webhook_for(
            config,
            "kill_switch",
            webhook::WebhookAction::KillSwitch {
                target: target.clone(),
            },
            *production,
            actor,
        )?,
    })
}

/// The `[actuators.<backend>]` section a mitigation uses, or an error saying it is missing.
fn connection<'a, T>(
    section: &'a Option<T>,
    mitigation: &str,
    backend: &str,
) -> Result<&'a T, ActuatorError> {
    section.as_ref().ok_or_else(|| {
        ActuatorError::Misconfigured(format!(
            "[mitigations.{mitigation}] uses backend = \"{backend}\", but flightdeck.toml has no \
             [actuators.{backend}] section saying how to reach it"
        ))
    })
}

fn webhook_for(
    config: &ConfigFile,
    mitigation: &str,
    action: webhook::WebhookAction,
    production: Option<bool>,
    actor: &str,
) -> Result<Configured, ActuatorError> {
    let hook = connection(&config.actuators.webhook, mitigation, "webhook")?;
    webhook::Webhook::from_config(
        hook,
        action,
        production,
        config.actuators.timeout_ms,
        actor.to_string(),
    )
    .map(Configured::Webhook)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::parse;

    #[test]
    fn a_mitigation_without_its_connection_names_both_sections() {
        let config = parse(
            "team/flightdeck.toml",
            "[mitigations.kill_switch]\nbackend = \"unleash\"\nflag = \"support-ai\"\n",
        )
        .unwrap();
        let error = from_config(&config, "oncall").err().unwrap().to_string();
        assert!(
            error.contains("[mitigations.kill_switch]") && error.contains("[actuators.unleash]"),
            "{error}"
        );
    }

    #[test]
    fn a_zero_timeout_is_refused_once_for_every_backend() {
        let config = parse("team/flightdeck.toml", "[actuators]\ntimeout_ms = 0\n").unwrap();
        assert_eq!(
            from_config(&config, "oncall").err().unwrap(),
            ActuatorError::Misconfigured("[actuators] timeout_ms must be at least 1".into())
        );
    }

    #[test]
    fn kinds_without_a_backend_say_how_to_configure_one() {
        let config = parse(
            "team/flightdeck.toml",
            "[actuators.flagd]\nfile = \"flags.json\"\n\n\
             [mitigations.kill_switch]\nbackend = \"flagd\"\nflag = \"support-ai\"\n",
        )
        .unwrap();
        let (built, unconfigured) = from_config(&config, "oncall").unwrap();
        assert_eq!(built.len(), 1);
        assert_eq!(built[0].backend(), "flagd file");
        let reasons: Vec<_> = unconfigured
            .iter()
            .map(|p| (p.kind, p.unavailable.clone().unwrap()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    MitigationKind::PromptRollback,
                    "not configured: add [mitigations.prompt_rollback] to flightdeck.toml".into()
                ),
                (
                    MitigationKind::ModelPin,
                    "not configured: add [mitigations.model_pin] to flightdeck.toml".into()
                ),
            ]
        );
    }
}
