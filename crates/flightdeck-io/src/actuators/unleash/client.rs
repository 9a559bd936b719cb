//! HTTP to one Unleash admin API: a flag as the admin API reads it, and one write at a time.
//! Every message names the URL, quotes the server's reason briefly and never holds the token.

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::actuators::ActuatorError;
use crate::config::actuators::UnleashConfig;
use crate::http::{self, BODY_EXCERPT_CHARS, HttpError, shown_url};

/// What a read found: the thing asked for, or why there is none to act on.
pub(super) enum Read<T> {
    Found(T),
    Missing(String),
}

/// A flag as `GET /api/admin/projects/{project}/features/{flag}` gives it.
#[derive(Debug, Deserialize)]
struct Feature {
    #[serde(default)]
    environments: Vec<FeatureEnvironment>,
}

/// One environment of a flag: whether it is on there, and its strategies.
#[derive(Debug, Deserialize)]
pub(super) struct FeatureEnvironment {
    pub name: String,
    pub enabled: bool,
    /// Kept as read, so that a strategy is written back with every field it had.
    #[serde(default)]
    pub strategies: Vec<Value>,
}

/// A request that got no answer, and whether it may have reached the server.
struct SendFailure {
    error: HttpError,
    /// False only when no connection was made, so a write cannot have happened.
    maybe_sent: bool,
}

impl SendFailure {
    fn message(&self) -> String {
        format!("Unleash {}", self.error)
    }
}

/// A client for one Unleash project and environment, with the admin token from the environment.
pub(super) struct UnleashClient {
    http: reqwest::Client,
    base: Url,
    token_env: String,
    /// Kept only to scrub it from anything the server echoes back.
    token: String,
    pub project: String,
    pub environment: String,
    timeout_ms: u64,
}

impl UnleashClient {
    /// Checks the config and reads the token once, so a mistake shows at startup.
    pub fn new(config: &UnleashConfig, timeout_ms: u64) -> Result<Self, ActuatorError> {
        let base = http::base_url(&config.url).ok_or_else(|| {
            ActuatorError::Misconfigured(format!(
                "[actuators.unleash] url {:?} is not a valid base URL",
                config.url
            ))
        })?;
        let var = &config.token_env;
        let bearer = http::token(var).map_err(|error| {
            ActuatorError::Misconfigured(error.explain(
                "actuators.unleash",
                "token_env",
                var,
                "an Unleash admin API token",
            ))
        })?;
        let client = http::client(&base, Some(&bearer), timeout_ms)
            .map_err(|error| ActuatorError::from_http(&error, format!("Unleash {error}")))?;
        Ok(Self {
            http: client,
            base,
            token_env: var.clone(),
            token: bearer.secret,
            project: config.project.clone(),
            environment: config.environment.clone(),
            timeout_ms,
        })
    }

    /// `{base}/api/admin/projects/{project}/features/{flag}/...`, each segment escaped.
    pub fn feature_url(&self, flag: &str, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base URL can be a base")
            .pop_if_empty()
            .extend(["api", "admin", "projects", &self.project, "features", flag])
            .extend(rest);
        url
    }

    /// `.../features/{flag}/environments/{environment}/...`.
    pub fn environment_url(&self, flag: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["environments", self.environment.as_str()];
        segments.extend(rest);
        self.feature_url(flag, &segments)
    }

    /// What a preview shows for the header, without the token.
    pub fn authorization(&self) -> String {
        format!("Authorization: <token from ${}>", self.token_env)
    }

    /// The flag in the configured environment, or why it has none there.
    pub async fn environment_of(
        &self,
        flag: &str,
    ) -> Result<Read<FeatureEnvironment>, ActuatorError> {
        let Some(Feature { environments }) = self.feature(flag).await? else {
            return Ok(Read::Missing(format!(
                "Unleash has no flag {flag} in project {}",
                self.project
            )));
        };
        Ok(
            match environments
                .into_iter()
                .find(|environment| environment.name == self.environment)
            {
                Some(environment) => Read::Found(environment),
                None => Read::Missing(format!(
                    "flag {flag} has no environment {} in Unleash",
                    self.environment
                )),
            },
        )
    }

    /// The flag, or None when Unleash has no such flag in the project.
    async fn feature(&self, flag: &str) -> Result<Option<Feature>, ActuatorError> {
        let url = self.feature_url(flag, &[]);
        let (status, body) = self
            .send(Method::GET, &url, None)
            .await
            .map_err(|failure| ActuatorError::Unreachable(failure.message()))?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => serde_json::from_str(&body).map(Some).map_err(|err| {
                let error = HttpError::bad_response(&url, self.scrub(&err.to_string()));
                ActuatorError::Refused(format!("Unleash {error}"))
            }),
            status => Err(self.status_error(&url, status, &body)),
        }
    }

    /// Sends one change, never retried; Ok is the status and the body of a 2xx answer.
    pub async fn write(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), ActuatorError> {
        let (status, text) = self.send(method, url, body).await.map_err(|failure| {
            ActuatorError::Unreachable(match failure.maybe_sent {
                false => format!("{}; nothing was changed", failure.message()),
                true => format!(
                    "{}; the change may or may not have been made: read the flag before trying \
                     again",
                    failure.message()
                ),
            })
        })?;
        if status.is_success() {
            Ok((status, text))
        } else {
            Err(self.status_error(url, status, &text))
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), SendFailure> {
        let mut request = self.http.request(method, url.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_failure(url, &err))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| self.transport_failure(url, &err))?;
        Ok((status, text))
    }

    fn transport_failure(&self, url: &Url, err: &reqwest::Error) -> SendFailure {
        SendFailure {
            error: HttpError::unanswered(url, err, self.timeout_ms, |cause| self.scrub(cause)),
            maybe_sent: !err.is_connect(),
        }
    }

    /// A non-2xx answer: a refused token names its variable, anything else quotes the reason
    /// from Unleash's error JSON (hence not `HttpError::Status`, which quotes the raw body).
    fn status_error(&self, url: &Url, status: StatusCode, body: &str) -> ActuatorError {
        let excerpt = self.excerpt(body);
        ActuatorError::Refused(
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                format!(
                    "Unleash {} refused the token in ${} ({}): {excerpt}",
                    shown_url(url),
                    self.token_env,
                    status.as_u16()
                )
            } else {
                format!(
                    "Unleash {} answered HTTP {status}: {excerpt}",
                    shown_url(url)
                )
            },
        )
    }

    /// Unleash's own `message` when the body is its error JSON, else the start of the body;
    /// quoted, short and scrubbed.
    fn excerpt(&self, body: &str) -> String {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|json| json.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.split_whitespace().collect::<Vec<_>>().join(" "));
        let message = self.scrub(&message);
        let mut excerpt: String = message.chars().take(BODY_EXCERPT_CHARS).collect();
        if excerpt.len() < message.len() {
            excerpt.push('…');
        }
        format!("{excerpt:?}")
    }

    /// Removes the token and the url's password from server text: a misconfigured proxy may echo
    /// the Authorization header.
    pub fn scrub(&self, text: &str) -> String {
        http::scrub(
            text,
            [
                self.token.as_str(),
                self.base.password().unwrap_or_default(),
            ],
        )
    }
}
