//! The routes: `POST /v1/traces` and `/v1/logs` (OTLP/HTTP, protobuf or JSON, optionally
//! gzipped) and `POST /v1/changes`, behind an optional bearer token. Handlers decode, map and
//! queue; they never wait on the consumer.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::changes::parse_changes;
use super::decode::{self, BodyError, Encoding, RawBody};
use super::forward::{Full, Intake, Queue};
use super::host::Hosts;
use super::records::{self, LOG_RECORDS, RecordPath, SPANS};
use super::response::{failure, success};
use super::stats::ReceiverStats;
use crate::otel::batch::{log_batch, span_batch};

pub struct Shared {
    pub queue: Queue,
    pub stats: ReceiverStats,
    /// The token exporters must send, and the variable it came from (named in refusals).
    pub token: Option<(String, String)>,
    pub max_body_bytes: usize,
    /// Bodies being read or decoded; when none is left a request is answered 503 at once.
    pub bodies: tokio::sync::Semaphore,
    /// How many, named in the refusal.
    pub bodies_at_once: usize,
    /// How long a body may take to arrive.
    pub body_read: std::time::Duration,
    /// Bodies being decoded and mapped at once, so concurrent requests cannot multiply the
    /// memory one takes.
    pub decoding: tokio::sync::Semaphore,
    /// The `Host` values `/v1/changes` serves.
    pub hosts: Hosts,
}

/// Requests decoded at once: a 16 MiB body of small spans decodes to a few hundred MB.
pub const DECODING_AT_ONCE: usize = 2;
/// Spans or log records one request may hold; exporters send batches of 512 by default.
const MAX_RECORDS: usize = 100_000;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .route("/v1/changes", post(changes))
        // On the routes only, so an unknown path is a 404 whatever its token.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            authorize,
        ))
        .with_state(shared)
}

async fn authorize(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some((token, variable)) = &shared.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_credentials);
    if given.is_some_and(|given| same_secret(given.trim().as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    shared.stats.heard_from();
    let reason = format!(
        "missing or wrong bearer token on {}: send Authorization: Bearer <the token in ${variable}>",
        request.uri().path()
    );
    shared.stats.note_refusal(reason.clone());
    tracing::warn!("OTLP receiver: {reason}");
    failure(
        StatusCode::UNAUTHORIZED,
        reason,
        decode::otlp_encoding(request.headers()).ok(),
    )
}

/// The credentials of an `Authorization: Bearer …` value; the scheme is case-insensitive
/// (RFC 7235).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(credentials)
}

/// Compares in time that does not depend on where the first difference is.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

async fn traces(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let read = shared.read(&headers, body, (SPANS, "spans"), |bytes, encoding| {
        decode::decode::<ExportTraceServiceRequest>(bytes, encoding, "ExportTraceServiceRequest")
            .map(span_batch)
    });
    let (batch, encoding) = match read.await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let calls = batch.calls.len();
    if let Err(full) = shared.queue.push(Intake::Calls(batch.calls)) {
        return shared.refuse_full(calls, "calls", full, encoding);
    }
    shared.stats.pass_over(batch.passed_over);
    let partial_success = batch.rejected.message().map(|message| {
        shared.stats.reject(batch.rejected.count, message.clone());
        tracing::warn!(
            "OTLP receiver: {} spans rejected: {message}",
            batch.rejected.count
        );
        ExportTracePartialSuccess {
            rejected_spans: i64::try_from(batch.rejected.count).unwrap_or(i64::MAX),
            error_message: message,
        }
    });
    success(&ExportTraceServiceResponse { partial_success }, encoding)
}

async fn logs(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let read = shared.read(
        &headers,
        body,
        (LOG_RECORDS, "log records"),
        |bytes, encoding| {
            decode::decode::<ExportLogsServiceRequest>(bytes, encoding, "ExportLogsServiceRequest")
                .map(log_batch)
        },
    );
    let (batch, encoding) = match read.await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let additions = batch.additions.len();
    if let Err(full) = shared.queue.push(Intake::Additions(batch.additions)) {
        return shared.refuse_full(additions, "log records", full, encoding);
    }
    shared.stats.pass_over(batch.passed_over);
    let partial_success = batch.rejected.message().map(|message| {
        shared.stats.reject(batch.rejected.count, message.clone());
        tracing::warn!(
            "OTLP receiver: {} log records rejected: {message}",
            batch.rejected.count
        );
        ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(batch.rejected.count).unwrap_or(i64::MAX),
            error_message: message,
        }
    });
    success(&ExportLogsServiceResponse { partial_success }, encoding)
}

async fn changes(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    shared.stats.heard_from();
    let json = Some(Encoding::Json);
    let host = headers
        .get(header::HOST)
        .map(|value| value.to_str().unwrap_or("?"));
    if !shared.hosts.allows(host) {
        let reason = format!(
            "POST /v1/changes for host {:?}, which is not this receiver ({}): refused, as a page re-pointed here by DNS would be",
            host.unwrap_or_default(),
            shared.hosts.described()
        );
        shared.stats.note_refusal(reason.clone());
        tracing::warn!("OTLP receiver: {reason}");
        return failure(StatusCode::MISDIRECTED_REQUEST, reason, json);
    }
    if let Err(error) = decode::check_changes_type(&headers) {
        return shared.refuse_body(error, json);
    }
    let Ok(_reading) = shared.bodies.try_acquire() else {
        return shared.refuse_busy(json);
    };
    let raw = match shared.read_body(&headers, body).await {
        Ok(raw) => raw,
        Err(error) => return shared.refuse_body(error, json),
    };
    // Off the runtime's workers, like the other bodies: a gzip body may be megabytes to inflate.
    let permit = shared.decoding.acquire().await;
    let decompressed = tokio::task::spawn_blocking(move || raw.decompressed())
        .await
        .unwrap_or_else(|error| Err(BodyError::Internal(error.to_string())));
    drop(permit);
    let bytes = match decompressed {
        Ok(bytes) => bytes,
        Err(error) => return shared.refuse_body(error, json),
    };
    let changes = match parse_changes(&bytes) {
        Ok(changes) => changes,
        Err(bad) => {
            let reason = format!("POST /v1/changes: {bad}");
            shared.stats.reject(bad.bad as u64, reason.clone());
            tracing::warn!("OTLP receiver: {reason}");
            return failure(StatusCode::BAD_REQUEST, reason, json);
        }
    };
    let accepted = changes.len();
    if let Err(full) = shared.queue.push(Intake::Changes(changes)) {
        return shared.refuse_full(accepted, "changes", full, Encoding::Json);
    }
    let body = serde_json::json!({ "accepted": accepted }).to_string();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

impl Shared {
    /// What `understand` makes of the request's body, with the body's encoding, or the refusal
    /// to answer with; a body holding more than [`MAX_RECORDS`] records at `path` is refused
    /// before it is decoded. Decompressing, decoding and mapping are CPU work, done on the
    /// blocking pool so the runtime's workers stay free for I/O and timers (the cockpit's
    /// frames), a few at a time.
    async fn read<T: Send + 'static>(
        &self,
        headers: &HeaderMap,
        body: Body,
        (path, what): (RecordPath, &'static str),
        understand: impl FnOnce(&[u8], Encoding) -> Result<T, BodyError> + Send + 'static,
    ) -> Result<(T, Encoding), Response> {
        self.stats.heard_from();
        let encoding =
            decode::otlp_encoding(headers).map_err(|error| self.refuse_body(error, None))?;
        let Ok(_reading) = self.bodies.try_acquire() else {
            return Err(self.refuse_busy(Some(encoding)));
        };
        let raw = self
            .read_body(headers, body)
            .await
            .map_err(|error| self.refuse_body(error, Some(encoding)))?;
        let permit = self.decoding.acquire().await;
        let understood = tokio::task::spawn_blocking(move || {
            let bytes = raw.decompressed()?;
            let count = records::count(&bytes, encoding, path);
            if count > MAX_RECORDS {
                return Err(BodyError::TooManyRecords {
                    count,
                    what,
                    limit: MAX_RECORDS,
                });
            }
            understand(&bytes, encoding)
        })
        .await
        .unwrap_or_else(|error| Err(BodyError::Internal(error.to_string())));
        drop(permit);
        understood
            .map(|value| (value, encoding))
            .map_err(|error| self.refuse_body(error, Some(encoding)))
    }

    /// The body within its size limit and its deadline.
    async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<RawBody, BodyError> {
        tokio::time::timeout(
            self.body_read,
            decode::read_body(headers, body, self.max_body_bytes),
        )
        .await
        .unwrap_or(Err(BodyError::TooSlow(self.body_read)))
    }

    /// 503 with Retry-After before the body is read: as many bodies as memory allows are in flight.
    fn refuse_busy(&self, encoding: Option<Encoding>) -> Response {
        let reason = format!(
            "{} request bodies are already being read: refused, retry later",
            self.bodies_at_once
        );
        self.stats.note_refusal(reason.clone());
        tracing::warn!("OTLP receiver: {reason}");
        failure(StatusCode::SERVICE_UNAVAILABLE, reason, encoding)
    }

    /// A body that cannot be taken counts as one rejected record: its contents are unknown.
    fn refuse_body(&self, error: BodyError, encoding: Option<Encoding>) -> Response {
        let reason = error.to_string();
        self.stats.reject(1, reason.clone());
        tracing::warn!("OTLP receiver: {reason}");
        failure(error.status(), reason, encoding)
    }

    /// 503 with Retry-After: the exporter keeps the records and sends them again.
    fn refuse_full(&self, count: usize, what: &str, full: Full, encoding: Encoding) -> Response {
        let reason = format!(
            "the queue is full ({} of {} records waiting for the cockpit): {count} {what} refused, retry later",
            full.waiting, full.capacity
        );
        self.stats.drop_refused(count as u64, reason.clone());
        tracing::warn!("OTLP receiver: {reason}");
        failure(StatusCode::SERVICE_UNAVAILABLE, reason, Some(encoding))
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_credentials, same_secret};

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_credentials("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_credentials("bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_credentials("BEARER s3cret"), Some("s3cret"));
        assert_eq!(bearer_credentials("Basic czNjcmV0"), None);
        assert_eq!(bearer_credentials("Bearers3cret"), None);
    }

    #[test]
    fn the_token_must_match_exactly() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3cret!", b"s3cret"));
        assert!(!same_secret(b"S3cret", b"s3cret"));
    }
}
