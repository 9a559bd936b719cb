//! Prompt rollback on a Phoenix prompt registry: the deploy tag is posted to an earlier version,
//! which moves it there (Phoenix's tag POST is an upsert). Reads go through the Phoenix source's
//! client: versions and texts by REST, dates and numbers by GraphQL.

use reqwest::Url;

use super::registry::{self, Pointer, PromptVersion};
use super::{Actuator, ActuatorError, Applied};
use crate::config::actuators::{PhoenixRegistryConfig, PromptRollbackConfig};
use crate::http::base_url;
use crate::http::{self, HttpError, SecretError, shown_url};
use crate::model::{MitigationKind, MitigationPlan};
use crate::sources::phoenix::client::{PhoenixClient, PhoenixError};
use crate::sources::phoenix::prompts::template_text;

const BACKEND: &str = "phoenix";

/// Moves a Phoenix prompt's deploy tag between its versions.
pub struct PromptTag {
    client: PhoenixClient,
    prompt: String,
    tag: String,
    production: Option<bool>,
    /// The variable holding the API key, named in previews and refusals.
    api_key_env: Option<String>,
    /// Kept to scrub it from everything returned.
    api_key: Option<String>,
}

impl PromptTag {
    /// From `[actuators.phoenix]` and a `[mitigations.prompt_rollback]` with backend "phoenix";
    /// reads the API key now, so a missing one shows at startup.
    pub fn from_config(
        registry: &PhoenixRegistryConfig,
        rollback: &PromptRollbackConfig,
        timeout_ms: u64,
    ) -> Result<Self, ActuatorError> {
        let PromptRollbackConfig::Phoenix {
            prompt,
            tag,
            production,
        } = rollback
        else {
            return Err(ActuatorError::Misconfigured(
                "[mitigations.prompt_rollback] names another backend than phoenix".to_string(),
            ));
        };
        let base = base_url(&registry.url).ok_or_else(|| {
            ActuatorError::Misconfigured(format!(
                "[actuators.phoenix] url {:?} is not a valid base URL",
                registry.url
            ))
        })?;
        let bearer = registry
            .api_key_env
            .as_deref()
            .map(|var| {
                http::bearer(var).map_err(|error| {
                    let told = error.explain("actuators.phoenix", "api_key_env", var, "the key");
                    // The key is optional: not asking for one is a fix too.
                    ActuatorError::Misconfigured(match error {
                        SecretError::Missing => format!("{told} or remove api_key_env"),
                        SecretError::NotAHeader => told,
                    })
                })
            })
            .transpose()?;
        let api_key = bearer.as_ref().map(|bearer| bearer.secret.clone());
        let client = PhoenixClient::with_parts(base, bearer, timeout_ms)
            .map_err(|err| ActuatorError::Misconfigured(err.to_string()))?;
        Ok(Self {
            client,
            prompt: prompt.clone(),
            tag: tag.clone(),
            production: *production,
            api_key_env: registry.api_key_env.clone(),
            api_key,
        })
    }

    fn pointer(&self) -> Pointer<'_> {
        Pointer {
            backend: BACKEND,
            prompt: &self.prompt,
            noun: "tag",
            name: &self.tag,
            production: self.production,
        }
    }

    /// "POST /v1/prompt_versions/{id}/tags {"name":"production"}".
    fn operation(&self, version_id: &str) -> String {
        format!(
            "POST {} {}",
            self.client.tag_version_url(version_id).path(),
            self.tag_body()
        )
    }

    fn tag_body(&self) -> String {
        serde_json::json!({ "name": self.tag }).to_string()
    }

    fn tagged_url(&self) -> Url {
        self.client.tagged_version_url(&self.prompt, &self.tag)
    }

    /// The id of the version the tag is on now.
    async fn tagged(&self) -> Result<Option<String>, ActuatorError> {
        self.client
            .tagged_version(&self.prompt, &self.tag)
            .await
            .map_err(|err| self.describe(err))
    }

    /// Every version of the prompt with its number, date and text; empty for an unknown prompt.
    async fn versions(&self) -> Result<Vec<PromptVersion>, ActuatorError> {
        let listed = self
            .client
            .prompt_versions(&self.prompt, |_| false)
            .await
            .map_err(|err| self.describe(err))?;
        let ids: Vec<&str> = listed.iter().map(|version| version.id.as_str()).collect();
        let facts = self
            .client
            .version_facts(&ids)
            .await
            .map_err(|err| self.describe(err))?;
        Ok(listed
            .iter()
            .zip(facts)
            .map(|(version, facts)| PromptVersion {
                id: version.id.clone(),
                number: facts.sequence,
                created_at: Some(facts.created_at),
                text: Some(template_text(&version.template)),
            })
            .collect())
    }

    /// The error as the user reads it: a refused key says which variable holds it.
    fn describe(&self, error: PhoenixError) -> ActuatorError {
        let PhoenixError::Http(http) = &error else {
            // The registry's requests give only HTTP errors; the others are the spans source's.
            return ActuatorError::Refused(self.scrub(&error.to_string()));
        };
        let text = match (http, &self.api_key_env) {
            (HttpError::Status { url, status, body }, Some(var)) if is_refusal(*status) => {
                format!("Phoenix {url}: the API key in ${var} was refused (HTTP {status}): {body}")
            }
            (HttpError::Status { url, status, body }, None) if is_refusal(*status) => format!(
                "Phoenix {url} wants an API key (HTTP {status}): set api_key_env in \
                 [actuators.phoenix]: {body}"
            ),
            _ => error.to_string(),
        };
        ActuatorError::from_http(http, self.scrub(&text))
    }

    fn scrub(&self, text: &str) -> String {
        http::scrub(text, self.api_key.as_deref())
    }
}

fn is_refusal(status: u16) -> bool {
    status == 401 || status == 403
}

impl Actuator for PromptTag {
    fn kind(&self) -> MitigationKind {
        MitigationKind::PromptRollback
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        let pointer = self.pointer();
        let versions = self.versions().await?;
        if versions.is_empty() {
            return Ok(pointer.unavailable(format!("Phoenix has no prompt {:?}", self.prompt)));
        }
        let Some(tagged) = self.tagged().await? else {
            return Ok(pointer.unavailable(format!(
                "no version of {} carries the tag {}",
                self.prompt, self.tag
            )));
        };
        let Some(current) = versions.iter().find(|version| version.id == tagged) else {
            return Ok(pointer.unavailable(format!(
                "the tag {} is on version {tagged}, which Phoenix does not list for {}",
                self.tag, self.prompt
            )));
        };
        Ok(pointer.rollback(current, &versions, |id| self.operation(id)))
    }

    fn preview(&self, plan: &MitigationPlan, _incident: Option<&str>) -> String {
        let url = self.client.tag_version_url(&plan.to_id);
        let authorization = match &self.api_key_env {
            Some(var) => format!("\nAuthorization: Bearer <key from ${var}>"),
            None => String::new(),
        };
        self.scrub(&format!(
            "POST {}\nContent-Type: application/json{authorization}\n{}",
            shown_url(&url),
            self.tag_body()
        ))
    }

    async fn apply(
        &self,
        plan: &MitigationPlan,
        _incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        if let Some(reason) = &plan.unavailable {
            return Err(ActuatorError::Unavailable(reason.clone()));
        }
        let now = self.tagged().await?;
        if now.as_deref() != Some(plan.from_id.as_str()) {
            let now = now.map(|id| self.scrub(&registry::known_label(plan, &id)));
            return Err(self.pointer().moved(now));
        }
        let status = self
            .client
            .tag_version(&plan.to_id, &self.tag)
            .await
            .map_err(|err| self.describe(err))?;
        Ok(Applied {
            answer: self.scrub(&format!(
                "POST {} → {status}",
                self.client.tag_version_url(&plan.to_id).path()
            )),
            undo: registry::undo(plan, |id| self.operation(id)),
        })
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        let request = format!("GET {}", self.tagged_url().path());
        match self.tagged().await? {
            Some(id) if id == plan.to_id => Ok(self.scrub(&format!(
                "{request}: the tag {} is on {} ({id})",
                self.tag, plan.to
            ))),
            now => {
                let now = now.map_or_else(
                    || "no version".to_string(),
                    |id| registry::known_label(plan, &id),
                );
                Err(ActuatorError::ReadBackDisagrees {
                    found: self.scrub(&format!(
                        "{request} says the tag {} is on {now}, not {}",
                        self.tag, plan.to
                    )),
                })
            }
        }
    }
}
