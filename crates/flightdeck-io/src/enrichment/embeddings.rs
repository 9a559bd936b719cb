//! Neural embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (docs: DETECTION.md,
//! "Drift and similarity"): no Rust crate ships a model, so a configured server is the way to one.

use serde::{Deserialize, Serialize};

use crate::http::{self, HttpError, SecretError};
use crate::model::Call;

/// Where embeddings come from, as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Base url, e.g. `http://127.0.0.1:8080/v1`; requests go to `{url}/embeddings`.
    pub url: String,
    pub model: String,
    /// The name of the environment variable holding the key, so the key never sits in a file.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_batch_size() -> usize {
    64
}

fn default_timeout_ms() -> u64 {
    5000
}

/// Why embeddings could not be had; every message names the endpoint or the config field.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    #[error("embeddings config: {0}")]
    InvalidConfig(String),
    #[error(
        "embeddings config: api_key_env names {var}, but {var} is unset, empty or not UTF-8; \
         export the key in {var} or remove api_key_env"
    )]
    MissingKey { var: String },
    #[error("embeddings endpoint {0}")]
    Http(#[from] HttpError),
}

/// A client for one endpoint; cheap to share, its connection pool is reused across requests.
pub struct EmbeddingClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    model: String,
    /// Kept only to scrub it from anything the server echoes back.
    api_key: Option<String>,
    batch_size: usize,
    timeout_ms: u64,
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    index: usize,
    /// Finite by construction: serde_json rejects NaN, Infinity and numbers beyond f32.
    embedding: Vec<f32>,
}

/// Which text of a call an embedding belongs to.
#[derive(Clone, Copy)]
enum Side {
    Input,
    Output,
}

impl EmbeddingClient {
    /// Reads the key once, so a missing variable fails at startup rather than on the first call.
    pub fn new(config: EndpointConfig) -> Result<Self, EmbeddingError> {
        if config.batch_size == 0 {
            return Err(EmbeddingError::InvalidConfig(
                "batch_size must be at least 1".into(),
            ));
        }
        if config.timeout_ms == 0 {
            return Err(EmbeddingError::InvalidConfig(
                "timeout_ms must be at least 1".into(),
            ));
        }
        let base = config.url.trim_end_matches('/');
        let endpoint = reqwest::Url::parse(&format!("{base}/embeddings")).map_err(|err| {
            EmbeddingError::InvalidConfig(format!("url {:?} is not a valid url: {err}", config.url))
        })?;
        let bearer = config
            .api_key_env
            .as_deref()
            .map(|var| {
                http::bearer(var).map_err(|error| match error {
                    SecretError::Missing => EmbeddingError::MissingKey {
                        var: var.to_owned(),
                    },
                    SecretError::NotAHeader => EmbeddingError::InvalidConfig(format!(
                        "the key in {var} holds characters an HTTP header cannot carry"
                    )),
                })
            })
            .transpose()?;
        let http = http::client(&endpoint, bearer.as_ref(), config.timeout_ms)?;
        Ok(Self {
            http,
            endpoint,
            model: config.model,
            api_key: bearer.map(|b| b.secret),
            batch_size: config.batch_size,
            timeout_ms: config.timeout_ms,
        })
    }

    /// One embedding per text, in the order given; all of one length and finite, or an error.
    pub async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut embeddings = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            embeddings.extend(self.embed_batch(batch).await?);
        }
        check_lengths(&embeddings).map_err(|reason| self.bad_response(reason))?;
        Ok(embeddings)
    }

    /// Attaches the embeddings calls lack; on error no call changes, so the engine falls back
    /// to its hashed n-gram embeddings for all of them alike. Returns how many it attached.
    pub async fn enrich(&self, calls: &mut [Call]) -> Result<usize, EmbeddingError> {
        let mut slots = Vec::new();
        let mut texts = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            let sides = [
                (Side::Input, &call.input, &call.input_embedding),
                (Side::Output, &call.output, &call.output_embedding),
            ];
            for (side, text, embedding) in sides {
                // Endpoints reject empty input, and there is nothing in it to embed.
                if let (Some(text), None) = (text, embedding)
                    && !text.trim().is_empty()
                {
                    slots.push((i, side));
                    texts.push(text.as_str());
                }
            }
        }
        let embeddings = self.embed(&texts).await?;
        let attached = embeddings.len();
        for ((i, side), embedding) in slots.into_iter().zip(embeddings) {
            let call = &mut calls[i];
            let slot = match side {
                Side::Input => &mut call.input_embedding,
                Side::Output => &mut call.output_embedding,
            };
            *slot = Some(embedding);
        }
        Ok(attached)
    }

    async fn embed_batch(&self, batch: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let request = EmbeddingsRequest {
            model: &self.model,
            input: batch,
        };
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(&request)
            .send()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| self.transport_error(&err))?;
        if !status.is_success() {
            return Err(HttpError::status(&self.endpoint, status, &self.scrub(&body)).into());
        }
        let response: EmbeddingsResponse = serde_json::from_str(&body).map_err(|err| {
            self.bad_response(format!(
                "not an embeddings response: {}",
                self.scrub(&err.to_string())
            ))
        })?;
        in_input_order(response.data, batch.len()).map_err(|reason| self.bad_response(reason))
    }

    fn transport_error(&self, err: &reqwest::Error) -> EmbeddingError {
        HttpError::unanswered(&self.endpoint, err, self.timeout_ms, |cause| {
            self.scrub(cause)
        })
        .into()
    }

    fn bad_response(&self, reason: String) -> EmbeddingError {
        HttpError::bad_response(&self.endpoint, reason).into()
    }

    /// Removes the key from server text: a misconfigured proxy may echo the Authorization header.
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => text.replace(key.as_str(), "[redacted]"),
            None => text.to_owned(),
        }
    }
}

/// Orders a batch's embeddings by `index`: servers need not return them in input order.
fn in_input_order(data: Vec<Embedding>, inputs: usize) -> Result<Vec<Vec<f32>>, String> {
    if data.len() != inputs {
        return Err(format!(
            "count mismatch: {inputs} inputs, {} embeddings",
            data.len()
        ));
    }
    let mut ordered = vec![None; inputs];
    for item in data {
        let slot = ordered
            .get_mut(item.index)
            .ok_or_else(|| format!("index {} is out of range for {inputs} inputs", item.index))?;
        if slot.replace(item.embedding).is_some() {
            return Err(format!("index {} appears twice", item.index));
        }
    }
    // As many items as inputs, each index in range and none twice: every slot is filled.
    Ok(ordered.into_iter().flatten().collect())
}

/// Drift compares vectors, so they must share one length.
fn check_lengths(embeddings: &[Vec<f32>]) -> Result<(), String> {
    let Some(dims) = embeddings.first().map(Vec::len) else {
        return Ok(());
    };
    if dims == 0 {
        return Err("input 0 got an empty embedding".into());
    }
    match embeddings
        .iter()
        .position(|embedding| embedding.len() != dims)
    {
        Some(i) => Err(format!(
            "mixed lengths: input {i} got {} dimensions, input 0 got {dims}",
            embeddings[i].len()
        )),
        None => Ok(()),
    }
}
