//! What the real-server tests share: where the backend suite says a server is, names no earlier
//! run used, and an HTTP client for the tests' own requests.

use std::time::{SystemTime, UNIX_EPOCH};

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
