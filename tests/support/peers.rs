//! What the real-server tests share: where the backend suite says a server is, names no earlier
//! run used, an HTTP client for the tests' own requests, and the Phoenix prompt registry's
//! writes they set up.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The address `tests/backends/run.sh` exported in `var` for a server it started.
pub fn server_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is unset: run tests/backends/run.sh"))
}

/// A name no earlier run used, so runs against one server do not see each other's data.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// A client for the test's own requests, on the crypto provider the crate uses.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Where the suite's Phoenix is.
pub fn phoenix_url() -> String {
    server_url("FLIGHTDECK_TEST_PHOENIX")
}

/// `POST /v1/prompts`: a new version of the prompt (the prompt itself the first time), with a
/// system message and an optional description; its id.
pub async fn create_prompt_version(
    http: &reqwest::Client,
    prompt: &str,
    model: &str,
    system: &str,
    description: Option<&str>,
) -> String {
    let mut version = json!({
        "model_provider": "OPENAI",
        "model_name": model,
        "template_type": "CHAT",
        "template_format": "MUSTACHE",
        "template": {"type": "chat", "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "{{question}}"}
        ]},
        "invocation_parameters": {"type": "openai", "openai": {}}
    });
    if let Some(description) = description {
        version["description"] = json!(description);
    }
    let response = http
        .post(format!("{}/v1/prompts", phoenix_url()))
        .json(&json!({"prompt": {"name": prompt}, "version": version}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let created: Value = response.json().await.unwrap();
    created["data"]["id"].as_str().unwrap().to_owned()
}

/// `POST /v1/prompt_versions/{id}/tags`: puts the tag on the version, moving it if it was elsewhere.
pub async fn tag_prompt_version(http: &reqwest::Client, version: &str, tag: &str) {
    let url = format!("{}/v1/prompt_versions/{version}/tags", phoenix_url());
    let response = http
        .post(url)
        .json(&json!({"name": tag}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}
