//! `[actuators.*]` (how to reach each mitigation backend) and `[mitigations.*]` (which backend
//! carries out each mitigation, on what). Secrets are named by environment variable only.

use std::path::PathBuf;

use serde::Deserialize;

/// How long a backend has to answer one request, unless the config says otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_project() -> String {
    "default".into()
}

fn production() -> String {
    "production".into()
}

fn on() -> String {
    "on".into()
}

fn off() -> String {
    "off".into()
}

fn model_key() -> String {
    "model".into()
}

fn pinned() -> String {
    "pinned".into()
}

/// The mitigation backends flightdeck can reach.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActuatorsConfig {
    /// How long a backend has to answer one request (default 10,000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    pub unleash: Option<UnleashConfig>,
    pub phoenix: Option<PhoenixRegistryConfig>,
    pub langfuse: Option<LangfuseConfig>,
    pub flagd: Option<FlagdConfig>,
    pub webhook: Option<WebhookConfig>,
}

/// With no `[actuators]` table: no backend, and the same timeout a table would get.
impl Default for ActuatorsConfig {
    fn default() -> Self {
        Self {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            unleash: None,
            phoenix: None,
            langfuse: None,
            flagd: None,
            webhook: None,
        }
    }
}

/// An Unleash server's admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnleashConfig {
    pub url: String,
    /// The variable holding an admin API token, sent as `Authorization: <token>`.
    pub token_env: String,
    #[serde(default = "default_project")]
    pub project: String,
    /// The environment the flags are changed in, e.g. "production".
    pub environment: String,
}

/// A Phoenix server's prompt registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoenixRegistryConfig {
    pub url: String,
    /// The variable holding an API key, when the server has auth on.
    pub api_key_env: Option<String>,
}

/// A Langfuse server's public API, with Basic auth from two variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangfuseConfig {
    pub url: String,
    pub public_key_env: String,
    pub secret_key_env: String,
}

/// An OpenFeature flagd flag-definition file, which flagd hot-reloads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagdConfig {
    /// Relative to the config file.
    pub file: PathBuf,
}

/// A team's own control plane, told by a signed POST.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The variable holding the HMAC-SHA256 signing secret.
    pub secret_env: String,
}

/// Which backend carries out each mitigation; a missing one shows as "not configured".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitigationsConfig {
    pub prompt_rollback: Option<PromptRollbackConfig>,
    pub model_pin: Option<ModelPinConfig>,
    pub kill_switch: Option<KillSwitchConfig>,
}

/// Roll the prompt back by moving its deploy tag or label to an earlier version.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum PromptRollbackConfig {
    Phoenix {
        /// The prompt's name in the registry.
        prompt: String,
        /// The tag the app deploys by.
        #[serde(default = "production")]
        tag: String,
        /// Whether confirming asks for the prompt's name to be typed (default: when the tag
        /// names production).
        production: Option<bool>,
    },
    Langfuse {
        prompt: String,
        /// The label the app fetches by.
        #[serde(default = "production")]
        label: String,
        production: Option<bool>,
    },
    Webhook {
        /// What the control plane calls the prompt.
        target: String,
        production: Option<bool>,
    },
}

/// Pin the model by a payload the app reads, instead of its floating alias.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelPinConfig {
    /// A strategy variant on an Unleash flag whose JSON payload names the model.
    Unleash {
        flag: String,
        /// The dated snapshot to pin, e.g. "gpt-4o-2024-08-06".
        model: String,
        /// The payload's key for the model (default "model").
        #[serde(default = "model_key")]
        payload_key: String,
        /// The variant's name (default "pinned").
        #[serde(default = "pinned")]
        variant: String,
        production: Option<bool>,
    },
    Webhook {
        target: String,
        model: String,
        production: Option<bool>,
    },
}

/// Turn the AI feature off (its fallback on), and back on.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum KillSwitchConfig {
    /// An Unleash flag that is on while the AI feature serves.
    Unleash {
        flag: String,
        production: Option<bool>,
    },
    /// A flag in the flagd file whose `defaultVariant` is swapped.
    Flagd {
        flag: String,
        /// The variant that serves the AI feature (default "on").
        #[serde(default = "on")]
        on_variant: String,
        /// The variant that switches it off (default "off").
        #[serde(default = "off")]
        off_variant: String,
        production: Option<bool>,
    },
    Webhook {
        target: String,
        production: Option<bool>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sections {
        #[serde(default)]
        actuators: ActuatorsConfig,
        #[serde(default)]
        mitigations: MitigationsConfig,
    }

    #[test]
    fn each_mitigation_names_its_backend_and_defaults_fill_in() {
        let sections: Sections = toml::from_str(
            r#"
            [actuators.unleash]
            url = "http://127.0.0.1:4242"
            token_env = "UNLEASH_TOKEN"
            environment = "production"

            [mitigations.kill_switch]
            backend = "unleash"
            flag = "support-ai"

            [mitigations.prompt_rollback]
            backend = "phoenix"
            prompt = "support-answer"
            "#,
        )
        .unwrap();
        assert_eq!(sections.actuators.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(sections.actuators.unleash.unwrap().project, "default");
        assert!(matches!(
            sections.mitigations.kill_switch,
            Some(KillSwitchConfig::Unleash { ref flag, production: None }) if flag == "support-ai"
        ));
        assert!(matches!(
            sections.mitigations.prompt_rollback,
            Some(PromptRollbackConfig::Phoenix { ref tag, .. }) if tag == "production"
        ));
    }

    #[test]
    fn a_key_the_backend_does_not_take_is_an_error_naming_it() {
        let error = toml::from_str::<Sections>(
            r#"
            [mitigations.kill_switch]
            backend = "unleash"
            flag = "support-ai"
            on_variant = "on"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("on_variant"), "{error}");
        let error = toml::from_str::<Sections>(
            r#"
            [mitigations.kill_switch]
            backend = "launchdarkly"
            flag = "support-ai"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("launchdarkly"), "{error}");
    }
}
