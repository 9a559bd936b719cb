//! HTTP to one Phoenix: the spans endpoint, the prompt registry (REST), and the version facts
//! the REST API leaves out (GraphQL). Every error names the URL it is about.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::prompts::{ListedVersion, VersionFacts};
use super::spans::{ListedPage, SpansPage};
use crate::config::sources::PhoenixConfig;
use crate::http::{self, Credentials, HttpError, SecretError, base_url, shown_url};

/// A poll's first page: between polls a few spans arrive, and a page costs Phoenix about 0.1 ms
/// a span.
const FIRST_SPAN_PAGE: u32 = 100;
/// The pages after it: the most spans Phoenix sends in one page.
const NEXT_SPAN_PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PhoenixError {
    #[error("[sources.phoenix] {0}")]
    InvalidConfig(String),
    #[error(
        "[sources.phoenix] api_key_env names {var}, but {var} is unset, empty or not UTF-8; \
         export the key in {var} or remove api_key_env"
    )]
    MissingKey { var: String },
    #[error("Phoenix {0}")]
    Http(#[from] HttpError),
    #[error(
        "Phoenix {url} has no project {project:?} yet: check [sources.phoenix] project, or send \
         it a span"
    )]
    NoProject { url: String, project: String },
}

/// A client for one Phoenix; its connection pool is reused across polls.
pub struct PhoenixClient {
    http: reqwest::Client,
    base: Url,
    /// Kept only to scrub it from anything the server echoes back.
    api_key: Option<String>,
    timeout_ms: u64,
}

#[derive(Deserialize)]
struct VersionsPage {
    data: Vec<ListedVersion>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct GraphqlResponse {
    data: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionNode {
    id: String,
    created_at: DateTime<Utc>,
    sequence_number: u64,
    user: Option<VersionUser>,
}

#[derive(Deserialize)]
struct VersionUser {
    username: String,
}

impl PhoenixClient {
    /// Checks the config and reads the key once, so a mistake shows at startup.
    pub fn new(config: &PhoenixConfig) -> Result<Self, PhoenixError> {
        if config.timeout_ms == 0 {
            return Err(PhoenixError::InvalidConfig(
                "timeout_ms must be at least 1".into(),
            ));
        }
        let base = base_url(&config.url).ok_or_else(|| {
            PhoenixError::InvalidConfig(format!("url {:?} is not a valid base URL", config.url))
        })?;
        let bearer = config
            .api_key_env
            .as_deref()
            .map(|var| {
                http::bearer(var).map_err(|error| match error {
                    SecretError::Missing => PhoenixError::MissingKey { var: var.into() },
                    SecretError::NotAHeader => PhoenixError::InvalidConfig(format!(
                        "the key in {var} holds characters an HTTP header cannot carry"
                    )),
                })
            })
            .transpose()?;
        Self::with_parts(base, bearer, config.timeout_ms)
    }

    /// A client for a base URL and key checked by the caller (the prompt-rollback actuator,
    /// whose config section is its own).
    pub(crate) fn with_parts(
        base: Url,
        credentials: Option<Credentials>,
        timeout_ms: u64,
    ) -> Result<Self, PhoenixError> {
        let http = http::client(&base, credentials.as_ref(), timeout_ms)?;
        Ok(Self {
            http,
            base,
            api_key: credentials.map(|c| c.secret),
            timeout_ms,
        })
    }

    /// A page of the project's spans, newest first: the newest few, or from `cursor` on a full
    /// page; only spans started at `since` or later when given.
    pub async fn spans_page(
        &self,
        project: &str,
        cursor: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<ListedPage, PhoenixError> {
        let mut url = self.endpoint(&["v1", "projects", project, "spans"]);
        {
            let mut query = url.query_pairs_mut();
            let limit = if cursor.is_some() {
                NEXT_SPAN_PAGE
            } else {
                FIRST_SPAN_PAGE
            };
            query.append_pair("limit", &limit.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
            if let Some(since) = since {
                query.append_pair(
                    "start_time",
                    &since.to_rfc3339_opts(SecondsFormat::Micros, true),
                );
            }
        }
        let request = self.http.get(url.clone());
        match self.send(request, &url).await {
            Err(PhoenixError::Http(HttpError::Status { status: 404, .. })) => {
                Err(PhoenixError::NoProject {
                    url: shown_url(&url),
                    project: project.into(),
                })
            }
            body => self
                .parse::<SpansPage>(&url, &body?)?
                .listed()
                .map_err(|err| self.bad_response(&url, err.to_string())),
        }
    }

    /// The prompt's versions, newest first, up to and including the first that `known` says was
    /// read before (so a poll fetches only what is new). An unknown prompt has none.
    pub async fn prompt_versions(
        &self,
        prompt: &str,
        known: impl Fn(&str) -> bool,
    ) -> Result<Vec<ListedVersion>, PhoenixError> {
        let mut versions = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.endpoint(&["v1", "prompts", prompt, "versions"]);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let body = self.send(self.http.get(url.clone()), &url).await?;
            let page: VersionsPage = self.parse(&url, &body)?;
            let reached_known = page.data.iter().any(|version| known(&version.id));
            versions.extend(page.data);
            match page.next_cursor {
                Some(next) if !reached_known => cursor = Some(next),
                _ => return Ok(versions),
            }
        }
    }

    /// The id of the version that carries `tag`, or `None` when no version does.
    pub async fn tagged_version(
        &self,
        prompt: &str,
        tag: &str,
    ) -> Result<Option<String>, PhoenixError> {
        #[derive(Deserialize)]
        struct Tagged {
            data: TaggedVersion,
        }
        #[derive(Deserialize)]
        struct TaggedVersion {
            id: String,
        }
        let url = self.tagged_version_url(prompt, tag);
        match self.send(self.http.get(url.clone()), &url).await {
            Err(PhoenixError::Http(HttpError::Status { status: 404, .. })) => Ok(None),
            body => Ok(Some(self.parse::<Tagged>(&url, &body?)?.data.id)),
        }
    }

    /// Puts `tag` on the version, moving it off any other version of the prompt (Phoenix's tag
    /// POST is an upsert); the status Phoenix answered.
    pub async fn tag_version(
        &self,
        version_id: &str,
        tag: &str,
    ) -> Result<reqwest::StatusCode, PhoenixError> {
        let url = self.tag_version_url(version_id);
        let request = self.http.post(url.clone()).json(&json!({ "name": tag }));
        let (status, _) = self.exchange(request, &url).await?;
        Ok(status)
    }

    /// `{base}/v1/prompt_versions/{id}/tags`, where a tag is posted.
    pub(crate) fn tag_version_url(&self, version_id: &str) -> Url {
        self.endpoint(&["v1", "prompt_versions", version_id, "tags"])
    }

    /// `{base}/v1/prompts/{prompt}/tags/{tag}`, where the tagged version is read.
    pub(crate) fn tagged_version_url(&self, prompt: &str, tag: &str) -> Url {
        self.endpoint(&["v1", "prompts", prompt, "tags", tag])
    }

    /// When each version was made, by whom, and its number: GraphQL has these, REST does not.
    pub async fn version_facts(&self, ids: &[&str]) -> Result<Vec<VersionFacts>, PhoenixError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (query, variables) = version_facts_query(ids);
        let url = self.endpoint(&["graphql"]);
        let request = self
            .http
            .post(url.clone())
            .json(&json!({"query": query, "variables": variables}));
        let body = self.send(request, &url).await?;
        let response: GraphqlResponse = self.parse(&url, &body)?;
        if let Some(error) = response.errors.first() {
            return Err(self.bad_response(&url, format!("GraphQL: {}", self.scrub(&error.message))));
        }
        let data = response.data.unwrap_or_default();
        (0..ids.len())
            .map(|i| {
                let node = data.get(&format!("v{i}")).cloned().unwrap_or_default();
                let node: VersionNode = serde_json::from_value(node).map_err(|err| {
                    self.bad_response(&url, format!("prompt version {}: {err}", ids[i]))
                })?;
                Ok(VersionFacts {
                    id: node.id,
                    created_at: node.created_at,
                    sequence: node.sequence_number,
                    author: node.user.map(|user| user.username),
                })
            })
            .collect()
    }

    /// `{base}/a/b/...`, each segment escaped (a project or prompt name may hold spaces).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base URL can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<String, PhoenixError> {
        Ok(self.exchange(request, url).await?.1)
    }

    /// The status and body of a successful answer; any other status is an error quoting the body.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<(reqwest::StatusCode, String), PhoenixError> {
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_error(url, &err))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| self.transport_error(url, &err))?;
        if !status.is_success() {
            return Err(HttpError::status(url, status, &self.scrub(&body)).into());
        }
        Ok((status, body))
    }

    fn parse<T: DeserializeOwned>(&self, url: &Url, body: &str) -> Result<T, PhoenixError> {
        serde_json::from_str(body)
            .map_err(|err| self.bad_response(url, self.scrub(&err.to_string())))
    }

    fn transport_error(&self, url: &Url, err: &reqwest::Error) -> PhoenixError {
        HttpError::unanswered(url, err, self.timeout_ms, |cause| self.scrub(cause)).into()
    }

    fn bad_response(&self, url: &Url, reason: String) -> PhoenixError {
        HttpError::bad_response(url, reason).into()
    }

    /// Removes the key and the url's password from server text: a misconfigured proxy may echo
    /// the Authorization header.
    fn scrub(&self, text: &str) -> String {
        let mut text = match &self.api_key {
            Some(key) => text.replace(key.as_str(), "[redacted]"),
            None => text.to_owned(),
        };
        if let Some(password) = self.base.password().filter(|p| !p.is_empty()) {
            text = text.replace(password, "[redacted]");
        }
        text
    }
}

/// One GraphQL query for all the versions: `node` takes one id, so each gets an alias `v<i>`.
fn version_facts_query(ids: &[&str]) -> (String, Value) {
    let parameters: Vec<String> = (0..ids.len()).map(|i| format!("$v{i}: ID!")).collect();
    let nodes: Vec<String> = (0..ids.len())
        .map(|i| format!("v{i}: node(id: $v{i}) {{ ...facts }}"))
        .collect();
    let query = format!(
        "query VersionFacts({}) {{ {} }} \
         fragment facts on PromptVersion {{ id createdAt sequenceNumber user {{ username }} }}",
        parameters.join(", "),
        nodes.join(" ")
    );
    let variables = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("v{i}"), Value::from(*id)))
        .collect::<serde_json::Map<_, _>>();
    (query, Value::Object(variables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_each_version_under_its_own_alias() {
        let (query, variables) = version_facts_query(&["QQ==", "Qg=="]);
        assert!(query.starts_with("query VersionFacts($v0: ID!, $v1: ID!) {"));
        assert!(query.contains("v0: node(id: $v0) { ...facts } v1: node(id: $v1) { ...facts }"));
        assert_eq!(variables, json!({"v0": "QQ==", "v1": "Qg=="}));
    }
}
