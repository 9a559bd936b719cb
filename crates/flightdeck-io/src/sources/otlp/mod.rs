//! The OTLP/HTTP receiver (docs/otlp.md): apps' OpenTelemetry exporters send spans and log
//! records here, CI pipelines send change records, and the consumer (the cockpit, or
//! `flightdeck record`) receives the calls and changes they describe.

mod changes;
mod decode;
mod forward;
mod host;
mod listen;
mod records;
mod response;
mod server;
mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use self::forward::{Intake, Queue};
pub use self::listen::Limits;
pub use self::stats::ReceiverStats;
use chrono::Utc;

use super::SourceEvent;
use crate::config::sources::OtlpConfig;
use crate::model::{Call, Change};
use crate::outbox::Deliver;

/// What the receiver hands its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Calls(Vec<Call>),
    Changes(Vec<Change>),
}

impl Received {
    /// The batch as the cockpit takes it, received at `wall`.
    pub fn into_event(self, wall: chrono::DateTime<Utc>) -> SourceEvent {
        match self {
            Self::Calls(calls) => SourceEvent::observed_live(wall, calls, Vec::new()),
            Self::Changes(changes) => SourceEvent::observed_live(wall, Vec::new(), changes),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("cannot listen for OTLP on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "sources.otlp.bearer_token_env names ${variable}, which is not set or empty: set it, or remove the key to accept requests without a token"
    )]
    TokenNotSet { variable: String },
    #[error("sources.otlp.{key} = {value}: {rule}")]
    InvalidConfig {
        key: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// Settings that would make the receiver refuse everything, or hold calls for ever.
fn check(config: &OtlpConfig) -> Result<(), ReceiverError> {
    let invalid = |key, value: String, rule| Err(ReceiverError::InvalidConfig { key, value, rule });
    if config.max_body_bytes < 1024 {
        return invalid(
            "max_body_bytes",
            config.max_body_bytes.to_string(),
            "must be at least 1024",
        );
    }
    if config.queue_capacity == 0 {
        return invalid("queue_capacity", "0".into(), "must be at least 1");
    }
    if config.max_connections == Some(0) {
        return invalid("max_connections", "0".into(), "must be at least 1");
    }
    if config.max_bodies_at_once == 0 {
        return invalid("max_bodies_at_once", "0".into(), "must be at least 1");
    }
    for (key, value) in [
        ("header_timeout_ms", config.header_timeout_ms),
        ("body_timeout_ms", config.body_timeout_ms),
        ("idle_timeout_ms", config.idle_timeout_ms),
    ] {
        if value < 100 {
            return invalid(
                key,
                value.to_string(),
                "must be at least 100: no exporter sends a request faster",
            );
        }
    }
    if config.join_window_ms > 60_000 {
        return invalid(
            "join_window_ms",
            config.join_window_ms.to_string(),
            "must be at most 60000: calls wait that long before the cockpit sees them",
        );
    }
    Ok(())
}

/// A receiver bound to its address, ready to serve.
pub struct Receiver {
    listener: TcpListener,
    local_addr: SocketAddr,
    queue: Queue,
    intake: mpsc::UnboundedReceiver<Intake>,
    waiting: Arc<AtomicUsize>,
    join_window: Duration,
    token: Option<(String, String)>,
    max_body_bytes: usize,
    limits: Limits,
    stats: ReceiverStats,
}

/// Binds the configured address and reads the bearer token from its environment variable.
pub async fn bind(config: &OtlpConfig) -> Result<Receiver, ReceiverError> {
    check(config)?;
    let token = match &config.bearer_token_env {
        Some(variable) => match std::env::var(variable) {
            Ok(token) if !token.trim().is_empty() => {
                Some((token.trim().to_owned(), variable.clone()))
            }
            _ => {
                return Err(ReceiverError::TokenNotSet {
                    variable: variable.clone(),
                });
            }
        },
        None => None,
    };
    let bind_error = |source| ReceiverError::Bind {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let (queue, intake, waiting) = Queue::new(config.queue_capacity);
    Ok(Receiver {
        listener,
        local_addr,
        queue,
        intake,
        waiting,
        join_window: Duration::from_millis(config.join_window_ms),
        token,
        max_body_bytes: config.max_body_bytes,
        limits: Limits::configured(config),
        stats: ReceiverStats::default(),
    })
}

impl Receiver {
    /// The bound address (the actual port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters, to report the receiver's status while it serves.
    pub fn stats(&self) -> ReceiverStats {
        self.stats.clone()
    }

    /// The receiver with other limits than the defaults.
    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    /// A warning when anyone who can reach the address may send without a token.
    pub fn exposure_warning(&self) -> Option<String> {
        let exposed = !self.local_addr.ip().is_loopback() && self.token.is_none();
        exposed.then(|| {
            format!(
                "warning: the OTLP receiver listens on {}, beyond this machine, with no bearer token: \
                 anyone who can reach it can send calls and changes. Set sources.otlp.bearer_token_env, \
                 or listen on 127.0.0.1",
                self.local_addr
            )
        })
    }

    /// The name its status is shown under.
    pub fn name(&self) -> String {
        format!("otlp {}", self.local_addr)
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight (for at most
    /// `Limits::shutdown_grace`) and hands `out` every call it still holds before returning.
    pub async fn serve(
        self,
        out: mpsc::Sender<Received>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let forwarder = tokio::spawn(forward::forward(
            self.intake,
            self.waiting,
            self.join_window,
            out,
            self.stats.clone(),
        ));
        let router = server::router(Arc::new(server::Shared {
            queue: self.queue,
            stats: self.stats,
            token: self.token,
            max_body_bytes: self.max_body_bytes,
            bodies: tokio::sync::Semaphore::new(self.limits.bodies_at_once),
            bodies_at_once: self.limits.bodies_at_once,
            body_read: self.limits.body_read,
            decoding: tokio::sync::Semaphore::new(server::DECODING_AT_ONCE),
            hosts: host::Hosts::new(self.local_addr, whoami::hostname().ok()),
        }));
        listen::serve(self.listener, router, self.limits, shutdown).await;
        // The router, and with it every handler's end of the queue, is gone: the forwarder
        // hands on what it holds and ends.
        if let Err(error) = forwarder.await {
            tracing::error!(
                "OTLP receiver on {}: the forwarder failed: {error}",
                self.local_addr
            );
        }
    }
}

/// Received batches on their way to the app; past this the receiver's own queue holds them.
const RECEIVED_IN_FLIGHT: usize = 64;
/// How often the receiver's counters are reported.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Serves the receiver, hands what it receives to the app, and reports its counters each second.
pub fn feed<M: From<SourceEvent> + Send + 'static>(receiver: Receiver, actions: mpsc::Sender<M>) {
    let name = receiver.name();
    let stats = receiver.stats();
    let (sender, mut received) = mpsc::channel(RECEIVED_IN_FLIGHT);
    tokio::spawn(receiver.serve(sender, std::future::pending()));
    let app = actions.clone();
    tokio::spawn(async move {
        while let Some(batch) = received.recv().await {
            if app.deliver(batch.into_event(Utc::now())).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(STATUS_EVERY);
        let mut last = None;
        loop {
            ticker.tick().await;
            let status = stats.status(&name);
            if last.as_ref() != Some(&status) {
                if actions
                    .deliver(SourceEvent::Status(status.clone()))
                    .await
                    .is_err()
                {
                    return;
                }
                last = Some(status);
            }
        }
    });
}
