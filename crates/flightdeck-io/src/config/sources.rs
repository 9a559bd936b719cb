//! The `[sources]` and `[changes]` sections: where `flightdeck watch` reads calls, changes and
//! infrastructure metrics. Every field but a server's address has a default.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// The longest line read from a JSONL file, pipe or stdin; a longer one is skipped as it is
    /// read, counted and reported, never held whole.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    pub events: Option<EventsConfig>,
    pub otlp: Option<OtlpConfig>,
    pub prometheus: Option<PrometheusConfig>,
    pub phoenix: Option<PhoenixConfig>,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            max_line_bytes: default_max_line_bytes(),
            events: None,
            otlp: None,
            prometheus: None,
            phoenix: None,
        }
    }
}

impl SourcesConfig {
    /// `max_line_bytes`, refused when no call could fit in it.
    pub fn line_limit(&self) -> Result<usize, String> {
        if self.max_line_bytes < 1024 {
            return Err(format!(
                "sources.max_line_bytes = {}: must be at least 1024",
                self.max_line_bytes
            ));
        }
        Ok(self.max_line_bytes)
    }
}

/// Calls in the JSONL contract from a file followed like `tail -F`, or `-` for standard input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub path: PathBuf,
    /// Read the file's existing lines first (a replay of its history); else start at its end.
    #[serde(default = "yes")]
    pub from_start: bool,
}

/// The OTLP/HTTP receiver (`POST /v1/traces`, `/v1/logs`, `/v1/changes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    #[serde(default = "default_otlp_listen")]
    pub listen: SocketAddr,
    /// The environment variable holding the bearer token exporters must send; none: no auth.
    pub bearer_token_env: Option<String>,
    /// Larger request bodies (after decompression) are refused with 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Records waiting for the cockpit, calls held for the join window included; past this,
    /// requests are refused with 503 and counted as dropped.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// How long a call waits for evaluation results sent as separate log records (and an
    /// evaluation for its call).
    #[serde(default = "default_join_window_ms")]
    pub join_window_ms: u64,
    /// Open connections at most; past this a new one is answered 503. By default 1024, and
    /// never more than leaves 128 file descriptors free under the process's limit.
    pub max_connections: Option<usize>,
    /// Request bodies read or decoded at once; past this a request is answered 503 with
    /// Retry-After, so concurrent large bodies cannot multiply memory.
    #[serde(default = "default_max_bodies_at_once")]
    pub max_bodies_at_once: usize,
    /// From a request's first byte to the end of its headers.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// From the end of a request's headers to the end of its body.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// How long a connection may wait, silent, for its next request.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            listen: default_otlp_listen(),
            bearer_token_env: None,
            max_body_bytes: default_max_body_bytes(),
            queue_capacity: default_queue_capacity(),
            join_window_ms: default_join_window_ms(),
            max_connections: None,
            max_bodies_at_once: default_max_bodies_at_once(),
            header_timeout_ms: default_header_timeout_ms(),
            body_timeout_ms: default_body_timeout_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
        }
    }
}

/// A Prometheus-compatible query API (Prometheus, Mimir, Thanos, VictoriaMetrics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// The base URL; queries go to `{url}/api/v1/query` and `/api/v1/query_range`.
    pub url: String,
    #[serde(default = "default_prometheus_interval")]
    pub interval_seconds: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The environment variable holding a bearer token, for a gateway that wants one.
    pub bearer_token_env: Option<String>,
    #[serde(default)]
    pub queries: Vec<PromQuery>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromQuery {
    pub name: String,
    /// PromQL; a query that returns several series is summed.
    pub query: String,
    /// How to print the value: "%", "s", "ms", "/s", or none.
    pub unit: Option<String>,
    /// Also read this many minutes of history (a range query) for the trend.
    pub range_minutes: Option<u32>,
    /// Above this the reading counts as infrastructure evidence in the triage.
    pub warn_above: Option<f64>,
}

/// Arize Phoenix: spans polled from a project, prompt versions read from its registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoenixConfig {
    /// The base URL; spans come from `{url}/v1/projects/{project}/spans`.
    pub url: String,
    /// The project's name (its traces' `openinference.project.name`); it names the calls' feature.
    #[serde(default = "default_phoenix_project")]
    pub project: String,
    /// The environment variable holding the API key, when Phoenix has auth on.
    pub api_key_env: Option<String>,
    #[serde(default = "default_phoenix_interval")]
    pub interval_seconds: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The first poll reads the spans that started this many minutes back; later ones, all new spans.
    #[serde(default = "default_phoenix_backfill_minutes")]
    pub backfill_minutes: u64,
    /// Prompts whose version history is read into the changes pane.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// The tag that marks the deployed version.
    #[serde(default = "default_phoenix_tag")]
    pub tag: String,
}

/// Change feeds besides `POST /v1/changes` on the receiver.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesConfig {
    /// Changes in the JSONL contract, followed like `tail -F`.
    pub file: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

fn default_otlp_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4318))
}

fn default_max_body_bytes() -> usize {
    16 * 1024 * 1024
}

fn default_max_line_bytes() -> usize {
    crate::jsonl::DEFAULT_MAX_LINE
}

fn default_max_bodies_at_once() -> usize {
    8
}

fn default_header_timeout_ms() -> u64 {
    5_000
}

fn default_body_timeout_ms() -> u64 {
    10_000
}

fn default_idle_timeout_ms() -> u64 {
    15_000
}

fn default_queue_capacity() -> usize {
    50_000
}

fn default_join_window_ms() -> u64 {
    2_000
}

fn default_prometheus_interval() -> u64 {
    15
}

fn default_timeout_ms() -> u64 {
    5_000
}

fn default_phoenix_project() -> String {
    "default".into()
}

fn default_phoenix_interval() -> u64 {
    5
}

fn default_phoenix_backfill_minutes() -> u64 {
    60
}

fn default_phoenix_tag() -> String {
    "production".into()
}
