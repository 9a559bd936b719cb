//! Any mitigation as one signed POST to the team's own control plane, for the switch, prompt
//! registry or model routing that live in a service of their own.
//!
//! The request, which a control plane implements against:
//!
//! ```text
//! POST <[actuators.webhook] url>
//! Content-Type: application/json
//! X-Flightdeck-Timestamp: 1767225600
//! X-Flightdeck-Signature: sha256=<64 lowercase hex digits>
//!
//! {"action":"kill_switch","from":"on","incident":"inc-20260101-0001","requested_by":"alice",
//!  "sent_at":"2026-01-01T00:00:00Z","target":"support-ai","to":"off","undo":false,"version":1}
//! ```
//!
//! The body is one line of JSON; a receiver must not rely on its key order. Headers and fields:
//! - `X-Flightdeck-Timestamp`: unix seconds when sent; `sent_at` is the same instant (RFC 3339).
//! - `X-Flightdeck-Signature`: `sha256=` and the lowercase hex HMAC-SHA256, keyed with the secret
//!   in `secret_env`, of `<timestamp>.<body>` (the body's bytes exactly as sent). A receiver
//!   compares it in constant time and refuses timestamps far from its own clock (replays).
//! - `version`: 1, for this shape.
//! - `action`: `"kill_switch"`, `"prompt_rollback"` or `"model_pin"`.
//! - `undo`: true asks to put back what the same action with `undo: false` changed.
//! - `target`: the `target` of the `[mitigations.*]` section, as the control plane names it.
//! - `from` → `to`: `"on"` → `"off"` for a kill switch, `"current"` → `"previous"` for a prompt
//!   rollback, `"current"` → the model (e.g. `"gpt-4o-2024-08-06"`) for a model pin; an undo
//!   swaps them. flightdeck cannot read the control plane's state: "current" is whatever it is.
//! - `requested_by`: who confirmed it in flightdeck; `incident`: the open incident's id, or null.
//!
//! Any 2xx means done, and the answer's body is shown to the user, so a control plane may say what
//! it did. The request is sent once and never retried: a request that failed may still have been
//! acted on, and only the control plane knows.

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use sha2::Sha256;

use super::{Actuator, ActuatorError, Applied};
use crate::config::actuators::WebhookConfig;
use crate::http::{self, HttpError, shown_url};
use crate::model::mitigation::is_production_name;
use crate::model::{MitigationKind, MitigationPlan};

const BACKEND: &str = "webhook";
/// How much of an answer's body to quote: enough to read what the control plane said.
const BODY_EXCERPT_CHARS: usize = 200;
/// What the state before the first change is called, since a webhook cannot read it.
const UNREAD: &str = "current (as your control plane has it)";
/// What an undo goes back to.
const RESTORED: &str = "as before (your control plane restores it)";

/// What one webhook actuator asks for: the `[mitigations.*]` section with backend = "webhook".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAction {
    KillSwitch { target: String },
    PromptRollback { target: String },
    ModelPin { target: String, model: String },
}

/// One mitigation told to a control plane by a signed POST.
pub struct Webhook {
    http: reqwest::Client,
    url: Url,
    secret: String,
    secret_env: String,
    action: WebhookAction,
    production: bool,
    actor: String,
    timeout_ms: u64,
}

impl WebhookAction {
    fn kind(&self) -> MitigationKind {
        match self {
            Self::KillSwitch { .. } => MitigationKind::KillSwitch,
            Self::PromptRollback { .. } => MitigationKind::PromptRollback,
            Self::ModelPin { .. } => MitigationKind::ModelPin,
        }
    }

    fn target(&self) -> &str {
        match self {
            Self::KillSwitch { target }
            | Self::PromptRollback { target }
            | Self::ModelPin { target, .. } => target,
        }
    }

    /// The ids sent as `from` and `to`, and how a person reads the state after.
    fn change(&self) -> (&str, &str, String) {
        match self {
            Self::KillSwitch { .. } => ("on", "off", "off (fallback)".into()),
            Self::PromptRollback { .. } => ("current", "previous", "previous version".into()),
            Self::ModelPin { model, .. } => ("current", model, format!("pinned to {model}")),
        }
    }
}

impl Webhook {
    /// Reads the signing secret once, so a missing variable shows at startup. Confirming asks for
    /// the target's name to be typed when `production` says so or, without it, when the target's
    /// name looks like production. `actor` is who confirms, sent as `requested_by`.
    pub fn from_config(
        config: &WebhookConfig,
        action: WebhookAction,
        production: Option<bool>,
        timeout_ms: u64,
        actor: String,
    ) -> Result<Self, ActuatorError> {
        let url = Url::parse(&config.url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ActuatorError::Misconfigured(format!(
                    "[actuators.webhook] url {:?} is not an http or https URL",
                    config.url
                ))
            })?;
        let var = &config.secret_env;
        let secret = http::secret(var).map_err(|error| {
            ActuatorError::Misconfigured(error.explain(
                "actuators.webhook",
                "secret_env",
                var,
                "the signing secret",
            ))
        })?;
        let http = http::client(&url, None, timeout_ms)
            .map_err(|error| ActuatorError::from_http(&error, format!("webhook {error}")))?;
        let production = production.unwrap_or_else(|| is_production_name(action.target()));
        Ok(Self {
            http,
            url,
            secret,
            secret_env: var.clone(),
            action,
            production,
            actor,
            timeout_ms,
        })
    }

    fn body(
        &self,
        plan: &MitigationPlan,
        incident: Option<&str>,
        sent_at: DateTime<Utc>,
    ) -> String {
        json!({
            "version": 1,
            "action": self.action.kind().key(),
            "undo": plan.undo,
            "target": self.action.target(),
            "from": plan.from_id,
            "to": plan.to_id,
            "requested_by": self.actor,
            "incident": incident,
            "sent_at": sent_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
        .to_string()
    }

    fn signature(&self, timestamp: &str, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC accepts any key length");
        mac.update(format!("{timestamp}.{body}").as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The answer's body, scrubbed and cut short, after a colon; nothing when it is empty.
    fn excerpt(&self, body: &str) -> String {
        let body = self.scrub(body.trim());
        if body.is_empty() {
            return String::new();
        }
        let mut excerpt: String = body.chars().take(BODY_EXCERPT_CHARS).collect();
        if excerpt.len() < body.len() {
            excerpt.push('…');
        }
        format!(": {excerpt}")
    }

    fn transport_error(&self, err: &reqwest::Error) -> ActuatorError {
        let error = HttpError::unanswered(&self.url, err, self.timeout_ms, str::to_owned);
        ActuatorError::Unreachable(match error {
            HttpError::Timeout { .. } => {
                format!("webhook {error}; it may still have acted, so it was not retried")
            }
            _ => self.scrub(&format!("webhook {error}")),
        })
    }

    /// Removes the signing secret and the url's password from text a server may echo back.
    fn scrub(&self, text: &str) -> String {
        http::scrub(
            text,
            [self.secret.as_str(), self.url.password().unwrap_or("")],
        )
    }
}

impl Actuator for Webhook {
    fn kind(&self) -> MitigationKind {
        self.action.kind()
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        let (from_id, to_id, to) = self.action.change();
        Ok(MitigationPlan {
            target: self.action.target().to_owned(),
            operation: format!("POST {}", shown_url(&self.url)),
            from: UNREAD.into(),
            to,
            from_id: from_id.into(),
            to_id: to_id.into(),
            confirm_name: self.production.then(|| self.action.target().to_owned()),
            ..MitigationPlan::new(self.action.kind(), BACKEND)
        })
    }

    fn preview(&self, plan: &MitigationPlan, incident: Option<&str>) -> String {
        format!(
            "POST {}\nContent-Type: application/json\nX-Flightdeck-Timestamp: <unix seconds when \
             sent>\nX-Flightdeck-Signature: sha256=<HMAC-SHA256 of \"<timestamp>.<body>\" with \
             the secret in ${}>\n\n{}",
            shown_url(&self.url),
            self.secret_env,
            self.body(plan, incident, Utc::now())
        )
    }

    async fn apply(
        &self,
        plan: &MitigationPlan,
        incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        if let Some(reason) = &plan.unavailable {
            return Err(ActuatorError::Unavailable(format!(
                "{reason}; nothing was sent"
            )));
        }
        let sent_at = Utc::now();
        let timestamp = sent_at.timestamp().to_string();
        let body = self.body(plan, incident, sent_at);
        let signature = format!("sha256={}", self.signature(&timestamp, &body));
        let response = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Flightdeck-Timestamp", &timestamp)
            .header("X-Flightdeck-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let status = response.status();
        let answer = response
            .text()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let url = shown_url(&self.url);
        let excerpt = self.excerpt(&answer);
        match status.as_u16() {
            200..=299 => Ok(Applied {
                answer: format!("POST {url} → {status}{excerpt}"),
                undo: Some(MitigationPlan {
                    to: RESTORED.into(),
                    ..plan.reversed(plan.operation.clone())
                }),
            }),
            401 | 403 => Err(ActuatorError::Refused(format!(
                "webhook {url} answered {status}{excerpt} (was the request signed with the secret \
                 it expects in ${}?)",
                self.secret_env
            ))),
            _ => Err(ActuatorError::Refused(format!(
                "webhook {url} answered {status}{excerpt}; not retried: your control plane may \
                 have acted anyway"
            ))),
        }
    }

    async fn verify(&self, _plan: &MitigationPlan) -> Result<String, ActuatorError> {
        Err(ActuatorError::Unavailable(
            "a webhook cannot be read back".into(),
        ))
    }

    fn can_verify(&self) -> bool {
        false
    }
}
