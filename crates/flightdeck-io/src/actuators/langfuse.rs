//! Prompt rollback on Langfuse: the deploy label is added to an earlier version with
//! `PATCH /api/public/v2/prompts/{name}/versions/{n}` `{"newLabels":[label]}`, and Langfuse takes
//! it off the version that had it. Public API, Basic auth with the public and secret keys.

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::registry::{self, Pointer, PromptVersion};
use super::{Actuator, ActuatorError, Applied};
use crate::config::actuators::{LangfuseConfig, PromptRollbackConfig};
use crate::http::{self, HttpError, shown_url};
use crate::model::{MitigationKind, MitigationPlan};

const BACKEND: &str = "langfuse";
/// How many other versions are offered with their texts: each text costs one request.
const MAX_CHOICES: usize = 10;

/// Moves a Langfuse prompt's deploy label between its versions.
pub struct PromptLabel {
    http: reqwest::Client,
    base: Url,
    prompt: String,
    label: String,
    production: Option<bool>,
    public_key_env: String,
    secret_key_env: String,
    /// The secret key and the Basic credentials (base64 of "public:secret"), scrubbed from
    /// everything returned.
    secrets: [String; 2],
    timeout_ms: u64,
}

/// `GET /api/public/v2/prompts?name=…`: each prompt with its version numbers.
#[derive(Deserialize)]
struct PromptList {
    data: Vec<PromptMeta>,
}

#[derive(Deserialize)]
struct PromptMeta {
    name: String,
    versions: Vec<u64>,
}

/// One version as `GET /api/public/v2/prompts/{name}` gives it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LangfusePrompt {
    version: u64,
    /// A text prompt's string, or a chat prompt's messages.
    prompt: Value,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

impl LangfusePrompt {
    fn into_version(self) -> PromptVersion {
        PromptVersion {
            id: self.version.to_string(),
            number: self.version,
            created_at: self.created_at,
            text: Some(prompt_text(&self.prompt)),
        }
    }
}

/// A status and body as the server sent them.
struct Answer {
    status: StatusCode,
    body: String,
}

impl PromptLabel {
    /// From `[actuators.langfuse]` and a `[mitigations.prompt_rollback]` with backend
    /// "langfuse"; reads both keys now, so a missing one shows at startup.
    pub fn from_config(
        config: &LangfuseConfig,
        rollback: &PromptRollbackConfig,
        timeout_ms: u64,
    ) -> Result<Self, ActuatorError> {
        let PromptRollbackConfig::Langfuse {
            prompt,
            label,
            production,
        } = rollback
        else {
            return Err(ActuatorError::Misconfigured(
                "[mitigations.prompt_rollback] names another backend than langfuse".to_string(),
            ));
        };
        let base = http::base_url(&config.url).ok_or_else(|| {
            ActuatorError::Misconfigured(format!(
                "[actuators.langfuse] url {:?} is not a valid base URL",
                config.url
            ))
        })?;
        let public_key = key(&config.public_key_env, "public_key_env", "the public key")?;
        let secret_key = key(&config.secret_key_env, "secret_key_env", "the secret key")?;
        let basic = http::basic(&public_key, &secret_key).map_err(|_| {
            ActuatorError::Misconfigured(format!(
                "[actuators.langfuse] the keys in {} and {} hold characters an HTTP header \
                 cannot carry",
                config.public_key_env, config.secret_key_env
            ))
        })?;
        let credentials = basic.encoded.clone().unwrap_or_default();
        let http = http::client(&base, Some(&basic), timeout_ms)
            .map_err(|error| ActuatorError::from_http(&error, format!("Langfuse {error}")))?;
        Ok(Self {
            http,
            base,
            prompt: prompt.clone(),
            label: label.clone(),
            production: *production,
            public_key_env: config.public_key_env.clone(),
            secret_key_env: config.secret_key_env.clone(),
            secrets: [secret_key, credentials],
            timeout_ms,
        })
    }

    fn pointer(&self) -> Pointer<'_> {
        Pointer {
            backend: BACKEND,
            prompt: &self.prompt,
            noun: "label",
            name: &self.label,
            production: self.production,
        }
    }

    /// `{base}/api/public/v2/prompts/…`, each segment escaped (a name may hold slashes).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in from_config: the base URL can be a base")
            .pop_if_empty()
            .extend(["api", "public", "v2", "prompts"])
            .extend(segments);
        url
    }

    fn labelled_url(&self) -> Url {
        let mut url = self.endpoint(&[&self.prompt]);
        url.query_pairs_mut().append_pair("label", &self.label);
        url
    }

    fn version_url(&self, version: &str) -> Url {
        self.endpoint(&[&self.prompt, "versions", version])
    }

    fn label_body(&self) -> String {
        json!({ "newLabels": [self.label] }).to_string()
    }

    /// "PATCH /api/public/v2/prompts/{name}/versions/{n} {"newLabels":["production"]}".
    fn operation(&self, version: &str) -> String {
        format!(
            "PATCH {} {}",
            self.version_url(version).path(),
            self.label_body()
        )
    }

    /// The prompt's version numbers; None when Langfuse has no prompt of that name.
    async fn version_numbers(&self) -> Result<Option<Vec<u64>>, ActuatorError> {
        let mut url = self.endpoint(&[]);
        url.query_pairs_mut().append_pair("name", &self.prompt);
        let list: PromptList = self.get(&url).await?;
        Ok(list
            .data
            .into_iter()
            .find(|meta| meta.name == self.prompt)
            .map(|meta| meta.versions))
    }

    /// The version carrying the label, or None when no version does.
    async fn labelled(&self) -> Result<Option<LangfusePrompt>, ActuatorError> {
        let url = self.labelled_url();
        let answer = self.send(self.http.get(url.clone()), &url).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = self.success(&url, answer)?;
        self.parse(&url, &body).map(Some)
    }

    async fn version(&self, version: u64) -> Result<LangfusePrompt, ActuatorError> {
        let mut url = self.endpoint(&[&self.prompt]);
        url.query_pairs_mut()
            .append_pair("version", &version.to_string());
        self.get(&url).await
    }

    async fn get<T: DeserializeOwned>(&self, url: &Url) -> Result<T, ActuatorError> {
        let answer = self.send(self.http.get(url.clone()), url).await?;
        let body = self.success(url, answer)?;
        self.parse(url, &body)
    }

    /// The server's answer whatever its status; Err only when none came.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<Answer, ActuatorError> {
        let failed = |err: reqwest::Error| {
            let error = HttpError::unanswered(url, &err, self.timeout_ms, str::to_owned);
            ActuatorError::Unreachable(self.scrub(&format!("Langfuse {error}")))
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let body = response.text().await.map_err(failed)?;
        Ok(Answer { status, body })
    }

    /// The body of a successful answer; any other is an error quoting the server's reason.
    fn success(&self, url: &Url, answer: Answer) -> Result<String, ActuatorError> {
        let status = answer.status;
        if status.is_success() {
            return Ok(answer.body);
        }
        let body = self.scrub(&answer.body);
        let refusal = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let excerpt: String = body.chars().take(http::BODY_EXCERPT_CHARS).collect();
            format!(
                "Langfuse {}: the keys in ${} and ${} were refused (HTTP {}): {excerpt}",
                shown_url(url),
                self.public_key_env,
                self.secret_key_env,
                status.as_u16()
            )
        } else {
            format!("Langfuse {}", HttpError::status(url, status, &body))
        };
        Err(ActuatorError::Refused(self.scrub(&refusal)))
    }

    fn parse<T: DeserializeOwned>(&self, url: &Url, body: &str) -> Result<T, ActuatorError> {
        serde_json::from_str(body).map_err(|err| {
            let error = HttpError::bad_response(url, err.to_string());
            ActuatorError::Refused(self.scrub(&format!("Langfuse {error}")))
        })
    }

    fn scrub(&self, text: &str) -> String {
        http::scrub(text, self.secrets.iter().map(String::as_str))
    }
}

/// The trimmed value of the variable a key's setting names, or an error naming both.
fn key(var: &str, setting: &str, what: &str) -> Result<String, ActuatorError> {
    http::secret(var).map_err(|error| {
        ActuatorError::Misconfigured(error.explain("actuators.langfuse", setting, var, what))
    })
}

/// The versions offered instead of `current`: the one before it and the newest others,
/// `MAX_CHOICES` in all, newest first.
fn offered(mut versions: Vec<u64>, current: u64) -> Vec<u64> {
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions.dedup();
    versions.retain(|version| *version != current);
    let previous = versions.iter().copied().find(|version| *version < current);
    versions.truncate(MAX_CHOICES);
    if let Some(previous) = previous
        && !versions.contains(&previous)
    {
        versions.pop();
        versions.push(previous);
    }
    versions
}

/// The words a prompt sends: a text prompt as written; a chat's messages as `role: text`, one
/// paragraph each, and a placeholder for messages filled in at run time by its name.
fn prompt_text(prompt: &Value) -> String {
    match prompt {
        Value::String(text) => text.clone(),
        Value::Array(messages) => messages
            .iter()
            .map(|message| {
                let field = |name| message.get(name).and_then(Value::as_str);
                match (field("type"), field("role")) {
                    (Some("placeholder"), _) => {
                        format!("[placeholder {}]", field("name").unwrap_or_default())
                    }
                    (_, role) => format!(
                        "{}: {}",
                        role.unwrap_or("message"),
                        field("content").unwrap_or_default()
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
        other => other.to_string(),
    }
}

impl Actuator for PromptLabel {
    fn kind(&self) -> MitigationKind {
        MitigationKind::PromptRollback
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        let pointer = self.pointer();
        let Some(versions) = self.version_numbers().await? else {
            return Ok(pointer.unavailable(format!("Langfuse has no prompt {:?}", self.prompt)));
        };
        let Some(current) = self.labelled().await? else {
            return Ok(pointer.unavailable(format!(
                "no version of {} carries the label {}",
                self.prompt, self.label
            )));
        };
        let mut others = Vec::new();
        for version in offered(versions, current.version) {
            others.push(self.version(version).await?.into_version());
        }
        Ok(pointer.rollback(&current.into_version(), &others, |id| self.operation(id)))
    }

    fn preview(&self, plan: &MitigationPlan, _incident: Option<&str>) -> String {
        self.scrub(&format!(
            "PATCH {}\nContent-Type: application/json\nAuthorization: Basic <base64 of \
             ${}:${}>\n{}",
            shown_url(&self.version_url(&plan.to_id)),
            self.public_key_env,
            self.secret_key_env,
            self.label_body()
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
        let now = self.labelled().await?;
        if now.as_ref().map(|now| now.version.to_string()).as_deref() != Some(&plan.from_id) {
            let now = now.map(|now| self.scrub(&now.into_version().label()));
            return Err(self.pointer().moved(now));
        }
        let url = self.version_url(&plan.to_id);
        let request = self
            .http
            .patch(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.label_body());
        let answer = self.send(request, &url).await?;
        let status = answer.status;
        self.success(&url, answer)?;
        Ok(Applied {
            answer: self.scrub(&format!("PATCH {} → {status}", url.path())),
            undo: registry::undo(plan, |id| self.operation(id)),
        })
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        let url = self.labelled_url();
        let request = format!("GET {}?{}", url.path(), url.query().unwrap_or_default());
        match self.labelled().await?.map(LangfusePrompt::into_version) {
            Some(now) if now.id == plan.to_id => Ok(self.scrub(&format!(
                "{request}: the label {} is on {}",
                self.label,
                now.label()
            ))),
            now => {
                let now = now.map_or_else(|| "no version".to_string(), |now| now.label());
                Err(ActuatorError::ReadBackDisagrees {
                    found: self.scrub(&format!(
                        "{request} says the label {} is on {now}, not {}",
                        self.label, plan.to
                    )),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_the_previous_version_and_the_newest_others_newest_first() {
        assert_eq!(offered(vec![1, 2, 3], 3), [2, 1]);
        assert_eq!(offered(vec![3, 1, 2], 1), [3, 2]);
        let many: Vec<u64> = (1..=15).collect();
        assert_eq!(
            offered(many.clone(), 5),
            [15, 14, 13, 12, 11, 10, 9, 8, 7, 4]
        );
        assert_eq!(offered(many, 15), [14, 13, 12, 11, 10, 9, 8, 7, 6, 5]);
        assert_eq!(offered(vec![7], 7), Vec::<u64>::new());
    }

    #[test]
    fn renders_text_and_chat_prompts_with_placeholders() {
        assert_eq!(
            prompt_text(&json!("Answer {{question}}")),
            "Answer {{question}}"
        );
        let chat = json!([
            {"role": "system", "content": "Answer briefly."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"}
        ]);
        assert_eq!(
            prompt_text(&chat),
            "system: Answer briefly.\n\n[placeholder history]\n\nuser: {{question}}"
        );
    }
}
