//! What every HTTP client of flightdeck shares (embeddings, Prometheus, Phoenix, the mitigation
//! backends): secrets read from the environment into a header reqwest never logs, rustls on ring,
//! a timeout, one error for a request without a usable answer, urls shown without credentials,
//! and text scrubbed of the secrets a server may echo back.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};

/// How much of an error body to quote: enough to read the server's reason, not a whole page.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// Why a request got no usable answer. The message starts with the url (never its credentials);
/// each client's own error puts the server's name before it ("Phoenix …", "query "x": …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: could not set up the HTTP client: {reason}")]
    ClientSetup { url: String, reason: String },
    #[error("{url} did not answer within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("{url}: connection failed: {reason}")]
    Connection { url: String, reason: String },
    /// A status other than 2xx; `body` is the start of the answer, scrubbed.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} sent a bad response: {reason}")]
    BadResponse { url: String, reason: String },
}

impl HttpError {
    /// A request that got no answer: it timed out, or its connection failed with the innermost
    /// cause (reqwest's own message repeats the url, query string and all), passed through `scrub`.
    pub fn unanswered(
        url: &Url,
        err: &reqwest::Error,
        timeout_ms: u64,
        scrub: impl FnOnce(&str) -> String,
    ) -> Self {
        let url = shown_url(url);
        if err.is_timeout() {
            Self::Timeout { url, timeout_ms }
        } else {
            Self::Connection {
                url,
                reason: scrub(&root_cause(err)),
            }
        }
    }

    /// A status other than 2xx, quoting the start of `scrubbed_body`.
    pub fn status(url: &Url, status: StatusCode, scrubbed_body: &str) -> Self {
        Self::Status {
            url: shown_url(url),
            status: status.as_u16(),
            body: scrubbed_body.chars().take(BODY_EXCERPT_CHARS).collect(),
        }
    }

    /// An answer that cannot be read, and why (scrubbed by the caller).
    pub fn bad_response(url: &Url, reason: String) -> Self {
        Self::BadResponse {
            url: shown_url(url),
            reason,
        }
    }

    /// Whether no answer came at all, so the server may not have been reached.
    pub fn is_unanswered(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Connection { .. })
    }
}

/// Secrets from the environment, as an `Authorization` header.
pub struct Credentials {
    /// Kept to scrub it from anything a server echoes back.
    pub secret: String,
    /// The form the header carries it in, when that is not the secret itself (Basic's base64):
    /// scrubbed too.
    pub encoded: Option<String>,
    header: HeaderValue,
}

/// Why the variable a config names gives no usable secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// Not set, or empty.
    Missing,
    /// Holds characters an HTTP header cannot carry.
    NotAHeader,
}

impl SecretError {
    /// What the user is told: the `[section]` whose `setting` names `var`, and `what` (with its
    /// article, e.g. "the key") belongs in it.
    pub fn explain(&self, section: &str, setting: &str, var: &str, what: &str) -> String {
        match self {
            Self::Missing => format!(
                "[{section}] {setting} names {var}, but {var} is unset or empty; export {what} in \
                 {var}"
            ),
            Self::NotAHeader => {
                format!("[{section}] {what} in {var} holds characters an HTTP header cannot carry")
            }
        }
    }
}

/// The secret in `var`, trimmed, as a sensitive `Authorization: Bearer …` header.
pub fn bearer(var: &str) -> Result<Credentials, SecretError> {
    let secret = secret(var)?;
    let header = sensitive(&format!("Bearer {secret}"))?;
    Ok(Credentials {
        secret,
        encoded: None,
        header,
    })
}

/// The secret in `var` as the whole `Authorization` value, with no scheme (Unleash's tokens).
pub fn token(var: &str) -> Result<Credentials, SecretError> {
    let secret = secret(var)?;
    let header = sensitive(&secret)?;
    Ok(Credentials {
        secret,
        encoded: None,
        header,
    })
}

/// `Authorization: Basic …` from a user and a password read with [`secret`] (Langfuse's public
/// and secret keys); the password and the encoded pair are kept for scrubbing.
pub fn basic(user: &str, password: &str) -> Result<Credentials, SecretError> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let header = sensitive(&format!("Basic {encoded}"))?;
    Ok(Credentials {
        secret: password.to_owned(),
        encoded: Some(encoded),
        header,
    })
}

/// The trimmed, non-empty value of `var`.
pub fn secret(var: &str) -> Result<String, SecretError> {
    match std::env::var(var) {
        Ok(secret) if !secret.trim().is_empty() => Ok(secret.trim().to_owned()),
        _ => Err(SecretError::Missing),
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, SecretError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| SecretError::NotAHeader)?;
    header.set_sensitive(true);
    Ok(header)
}

/// `text` with every non-empty secret replaced by `[redacted]`, then anything else shaped like a
/// credential (a url's `user:password@`, the `Basic` pair reqwest makes of it, a bearer token)
/// masked: what a server answers enters here, whichever pane or file it goes to next.
pub fn scrub<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = text.to_owned();
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    crate::redact::credentials(&text)
}

/// A client for the server at `url`, with the credentials' Authorization header, if any, and a
/// timeout on every request.
pub fn client(
    url: &Url,
    credentials: Option<&Credentials>,
    timeout_ms: u64,
) -> Result<reqwest::Client, HttpError> {
    let mut headers = HeaderMap::new();
    if let Some(credentials) = credentials {
        headers.insert(AUTHORIZATION, credentials.header.clone());
    }
    // reqwest is built without a crypto provider to keep aws-lc-sys (cmake, nasm) out; ring is
    // ours. An Err means a provider is installed already, which is all a client needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .map_err(|err| HttpError::ClientSetup {
            url: shown_url(url),
            reason: root_cause(&err),
        })
}

/// The innermost cause (e.g. "Connection refused"): reqwest's own message repeats the url,
/// query string and all.
fn root_cause(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The url as a base that paths can be added to, without a trailing slash; None if it is not one.
pub fn base_url(url: &str) -> Option<Url> {
    Url::parse(url.trim_end_matches('/'))
        .ok()
        .filter(|url| !url.cannot_be_a_base())
}

/// A server's url as errors and names show it: without `user:password@`, which reqwest would
/// otherwise carry into every message.
pub fn shown_url(url: &Url) -> String {
    let mut url = url.clone();
    // Cannot fail for http(s) urls, which have a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}
