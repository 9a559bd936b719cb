//! An HTTP client for one Prometheus-compatible query API: instant and range queries, with the
//! configured timeout and optional bearer token.

use chrono::{DateTime, Utc};
use reqwest::Url;

use super::response::{self, InstantAnswer, RangeAnswer, ResponseError};
use crate::config::sources::PrometheusConfig;
use crate::http::{self, HttpError, SecretError, shown_url};

/// Why a query has no answer. Query errors name the query and the endpoint, never the token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrometheusError {
    #[error("[sources.prometheus] {0}")]
    InvalidConfig(String),
    #[error(
        "[sources.prometheus] bearer_token_env names {var}, but {var} is unset, empty or not \
         UTF-8; export the token in {var} or remove bearer_token_env"
    )]
    MissingToken { var: String },
    #[error("prometheus {0}")]
    ClientSetup(HttpError),
    /// No answer, an HTTP failure without the API's error envelope (e.g. from a proxy in front),
    /// or an answer that cannot be read.
    #[error("query {query:?}: {source}")]
    Http { query: String, source: HttpError },
    /// The server's own refusal, e.g. a PromQL parse error.
    #[error("query {query:?}: {url} answered HTTP {status}: {reason}")]
    Refused {
        query: String,
        url: String,
        status: u16,
        reason: ResponseError,
    },
    #[error("query {query:?}: {reason}")]
    Unsupported { query: String, reason: String },
    /// The task reading the query ended before answering.
    #[error("query {query:?}: stopped before answering: {reason}")]
    Interrupted { query: String, reason: String },
}

/// A client for one server; cheap to share, its connection pool is reused across polls.
pub struct PrometheusClient {
    http: reqwest::Client,
    instant_endpoint: Url,
    range_endpoint: Url,
    /// Kept only to scrub it from anything the server echoes back.
    token: Option<String>,
    timeout_ms: u64,
}

impl PrometheusClient {
    /// Reads the token once, so a missing variable fails at startup rather than on every poll.
    pub fn new(config: &PrometheusConfig) -> Result<Self, PrometheusError> {
        if config.timeout_ms == 0 {
            return Err(PrometheusError::InvalidConfig(
                "timeout_ms must be at least 1".into(),
            ));
        }
        let base = config.url.trim_end_matches('/');
        let endpoint = |path: &str| {
            let url = Url::parse(&format!("{base}{path}")).map_err(|err| {
                PrometheusError::InvalidConfig(format!(
                    "url {:?} is not a valid url: {err}",
                    config.url
                ))
            })?;
            match url.scheme() {
                "http" | "https" => Ok(url),
                scheme => Err(PrometheusError::InvalidConfig(format!(
                    "url {:?} must be http or https, not {scheme}",
                    shown_url(&url)
                ))),
            }
        };
        let instant_endpoint = endpoint("/api/v1/query")?;
        let range_endpoint = endpoint("/api/v1/query_range")?;
        let bearer = config
            .bearer_token_env
            .as_deref()
            .map(|var| {
                http::bearer(var).map_err(|error| match error {
                    SecretError::Missing => PrometheusError::MissingToken {
                        var: var.to_owned(),
                    },
                    SecretError::NotAHeader => PrometheusError::InvalidConfig(format!(
                        "the token in {var} holds characters an HTTP header cannot carry"
                    )),
                })
            })
            .transpose()?;
        let http = http::client(&instant_endpoint, bearer.as_ref(), config.timeout_ms)
            .map_err(PrometheusError::ClientSetup)?;
        Ok(Self {
            http,
            instant_endpoint,
            range_endpoint,
            token: bearer.map(|b| b.secret),
            timeout_ms: config.timeout_ms,
        })
    }

    /// `host:port` of the server, e.g. for the source's name.
    pub fn authority(&self) -> String {
        let host = self.instant_endpoint.host_str().unwrap_or_default();
        match self.instant_endpoint.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Evaluates `promql` at `at`; `name` is the query's name in the config, for errors.
    pub async fn instant(
        &self,
        name: &str,
        promql: &str,
        at: DateTime<Utc>,
    ) -> Result<InstantAnswer, PrometheusError> {
        let mut url = self.instant_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("query", promql)
            .append_pair("time", &unix_seconds(at));
        let body = self.get(name, &self.instant_endpoint, url).await?;
        response::parse_instant(&body)
            .map_err(|err| self.answer_error(name, &self.instant_endpoint, err))
    }

    /// Evaluates `promql` every `step` from `start` to `end`.
    pub async fn range(
        &self,
        name: &str,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: chrono::Duration,
    ) -> Result<RangeAnswer, PrometheusError> {
        let mut url = self.range_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("query", promql)
            .append_pair("start", &unix_seconds(start))
            .append_pair("end", &unix_seconds(end))
            .append_pair("step", &format!("{:.3}", step.as_seconds_f64()));
        let body = self.get(name, &self.range_endpoint, url).await?;
        response::parse_range(&body)
            .map_err(|err| self.answer_error(name, &self.range_endpoint, err))
    }

    /// The body of a 2xx answer, or of an error answer that carries the API's envelope.
    async fn get(&self, name: &str, endpoint: &Url, url: Url) -> Result<String, PrometheusError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|err| self.transport_error(name, endpoint, &err))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| self.transport_error(name, endpoint, &err))?;
        if status.is_success() {
            return Ok(body);
        }
        match response::parse_instant(&body) {
            Err(reason @ ResponseError::Api { .. }) => Err(PrometheusError::Refused {
                query: name.to_owned(),
                url: shown_url(endpoint),
                status: status.as_u16(),
                reason: self.scrub_reason(reason),
            }),
            _ => Err(PrometheusError::Http {
                query: name.to_owned(),
                source: HttpError::status(endpoint, status, &self.scrub(&body)),
            }),
        }
    }

    fn answer_error(&self, name: &str, endpoint: &Url, err: ResponseError) -> PrometheusError {
        let query = name.to_owned();
        let url = shown_url(endpoint);
        match self.scrub_reason(err) {
            reason @ ResponseError::Api { .. } => PrometheusError::Refused {
                query,
                url,
                status: 200,
                reason,
            },
            ResponseError::Unsupported(reason) => PrometheusError::Unsupported { query, reason },
            ResponseError::Malformed(reason) => PrometheusError::Http {
                query,
                source: HttpError::bad_response(endpoint, reason),
            },
        }
    }

    fn transport_error(&self, name: &str, endpoint: &Url, err: &reqwest::Error) -> PrometheusError {
        PrometheusError::Http {
            query: name.to_owned(),
            source: HttpError::unanswered(endpoint, err, self.timeout_ms, |cause| {
                self.scrub(cause)
            }),
        }
    }

    fn scrub_reason(&self, reason: ResponseError) -> ResponseError {
        match reason {
            ResponseError::Api { error_type, error } => ResponseError::Api {
                error_type: self.scrub(&error_type),
                error: self.scrub(&error),
            },
            ResponseError::Unsupported(text) => ResponseError::Unsupported(self.scrub(&text)),
            ResponseError::Malformed(text) => ResponseError::Malformed(self.scrub(&text)),
        }
    }

    /// Removes the token and the url's password from server text: a misconfigured proxy may
    /// echo the Authorization header.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(token) = &self.token {
            text = text.replace(token.as_str(), "[redacted]");
        }
        if let Some(password) = self.instant_endpoint.password() {
            text = text.replace(password, "[redacted]");
        }
        text
    }
}

/// Seconds with milliseconds, the time format every Prometheus-compatible API accepts.
fn unix_seconds(at: DateTime<Utc>) -> String {
    let ms = at.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> PrometheusConfig {
        PrometheusConfig {
            url: url.into(),
            interval_seconds: 15,
            timeout_ms: 5_000,
            bearer_token_env: None,
            queries: Vec::new(),
        }
    }

    #[test]
    fn times_are_unix_seconds_with_milliseconds() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_042).unwrap();
        assert_eq!(unix_seconds(at), "1700000000.042");
    }

    #[test]
    fn endpoints_keep_a_path_prefix_and_shown_urls_drop_credentials() {
        let client =
            PrometheusClient::new(&config("https://ops:hunter2@mimir.example/prometheus/"))
                .unwrap();
        assert_eq!(
            client.range_endpoint.path(),
            "/prometheus/api/v1/query_range"
        );
        assert_eq!(
            shown_url(&client.instant_endpoint),
            "https://mimir.example/prometheus/api/v1/query"
        );
        assert_eq!(client.authority(), "mimir.example:443");
        assert_eq!(
            client.scrub("https://ops:hunter2@mimir.example"),
            "https://ops:[redacted]@mimir.example"
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_refused_naming_the_field() {
        let err = PrometheusClient::new(&config("127.0.0.1:9090"))
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("[sources.prometheus] url"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_token_variable_is_named() {
        let mut config = config("http://127.0.0.1:9090");
        config.bearer_token_env = Some("FLIGHTDECK_TEST_UNSET_PROMETHEUS_TOKEN".into());
        let err = PrometheusClient::new(&config).err().unwrap();
        assert_eq!(
            err,
            PrometheusError::MissingToken {
                var: "FLIGHTDECK_TEST_UNSET_PROMETHEUS_TOKEN".into()
            }
        );
    }
}
