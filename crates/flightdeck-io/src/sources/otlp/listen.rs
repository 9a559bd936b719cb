//! The receiver's accept loop: a bounded number of connections, each closed when its headers
//! come too slowly or it sits idle between requests, and a shutdown that waits for requests in
//! flight only until a deadline, so no client can hold the receiver open.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::response::RETRY_AFTER_SECONDS;
use crate::config::sources::OtlpConfig;

/// How much a client may cost the receiver, and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Open connections; past this a new one is answered 503 and closed.
    pub connections: usize,
    /// Request bodies being read or decoded at once; past this a request is answered 503, so
    /// concurrent large bodies cannot multiply memory.
    pub bodies_at_once: usize,
    /// From a request's first byte to the end of its headers.
    pub header_read: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body_read: Duration,
    /// How long a connection may wait, silent, for its next request.
    pub idle: Duration,
    /// How long a shutdown waits for requests in flight before dropping their connections.
    pub shutdown_grace: Duration,
}

/// Connections at most, whatever the descriptor limit allows.
const MAX_CONNECTIONS: usize = 1024;
/// Descriptors left for everything else the process opens (files, the log, outgoing requests).
const RESERVED_DESCRIPTORS: usize = 128;

impl Default for Limits {
    fn default() -> Self {
        Self::configured(&OtlpConfig::default())
    }
}

impl Limits {
    /// The limits `[sources.otlp]` asks for; connections never past what the descriptors allow.
    pub fn configured(config: &OtlpConfig) -> Self {
        let fitting = connection_limit(open_files_limit());
        Self {
            connections: config.max_connections.map_or(fitting, |n| n.min(fitting)),
            bodies_at_once: config.max_bodies_at_once,
            header_read: Duration::from_millis(config.header_timeout_ms),
            body_read: Duration::from_millis(config.body_timeout_ms),
            idle: Duration::from_millis(config.idle_timeout_ms),
            shutdown_grace: Duration::from_secs(1),
        }
    }
}

/// The soft RLIMIT_NOFILE, or none when it cannot be read or is unlimited.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given, which lives for the call.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (read == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Connections that fit below the descriptor limit with [`RESERVED_DESCRIPTORS`] to spare.
fn connection_limit(open_files: Option<u64>) -> usize {
    let fitting = open_files.map_or(MAX_CONNECTIONS, |limit| {
        usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(RESERVED_DESCRIPTORS)
    });
    fitting.clamp(1, MAX_CONNECTIONS)
}

/// What a connection over the limit is told before it is closed.
fn refusal() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {RETRY_AFTER_SECONDS}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// Accepts connections and serves `router` on each until `shutdown` resolves; then closes idle
/// connections, gives requests in flight `limits.shutdown_grace` to finish, and drops the rest.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let (closing, closed) = watch::channel(false);
    let admitted = Arc::new(Semaphore::new(limits.connections));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&admitted).try_acquire_owned() {
                    Ok(permit) => {
                        let router = router.clone();
                        let limits = limits.clone();
                        let closed = closed.clone();
                        connections.spawn(async move {
                            connection(stream, router, &limits, closed).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::debug!("OTLP receiver: {peer} refused, {} connections open", limits.connections);
                        // A fresh socket's send buffer is empty: the answer goes out without waiting.
                        let _ = stream.try_write(refusal().as_bytes());
                    }
                },
                Err(error) => {
                    // Out of descriptors or memory: wait for connections to close rather than spin.
                    tracing::warn!("OTLP receiver: cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            "OTLP receiver: {} connections still busy after {:?}, dropped",
            connections.len(),
            limits.shutdown_grace
        );
        connections.shutdown().await;
    }
}

/// Serves one connection until the client closes it, it times out, or the receiver closes.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: &Limits,
    mut closed: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let router = TowerToHyperService::new(router);
    let requests = Arc::clone(&activity);
    let service = service_fn(move |request| {
        let serving = requests.begin();
        let response = router.call(request);
        async move {
            let response = response.await;
            drop(serving);
            response
        }
    });
    let connection = http1::Builder::new().serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = *closed.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!("OTLP receiver: connection ended: {error}");
                }
                return;
            }
            _ = closed.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            why = activity.expiry(limits) => {
                tracing::debug!("OTLP receiver: connection closed: {why}");
                return;
            }
        }
    }
}

/// What a connection is doing, for the timeouts hyper does not keep: when its last request
/// ended, and when the first byte of the next one came.
struct Activity {
    epoch: Instant,
    serving: AtomicUsize,
    /// Milliseconds since `epoch`.
    last_done: AtomicU64,
    /// Milliseconds since `epoch` plus one; 0 while no byte of a next request has come.
    head_started: AtomicU64,
}

/// A request being served; dropping it marks the connection idle again.
struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.last_done.store(activity.now(), Ordering::Relaxed);
        activity.head_started.store(0, Ordering::Relaxed);
        activity.serving.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            serving: AtomicUsize::new(0),
            last_done: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(self: &Arc<Self>) -> Serving {
        self.serving.fetch_add(1, Ordering::Relaxed);
        Serving(Arc::clone(self))
    }

    /// Bytes read between requests start the header clock.
    fn read_some(&self) {
        if self.serving.load(Ordering::Relaxed) == 0 {
            let started = self.now().saturating_add(1);
            let _ = self.head_started.compare_exchange(
                0,
                started,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Resolves, naming the timeout, once the connection has waited too long for headers or sat
    /// idle too long; while a request is served its handler keeps the body deadline.
    async fn expiry(&self, limits: &Limits) -> &'static str {
        loop {
            let now = self.now();
            let (deadline, why) = if self.serving.load(Ordering::Relaxed) > 0 {
                (None, "")
            } else {
                match self.head_started.load(Ordering::Relaxed) {
                    0 => (
                        Some(self.last_done.load(Ordering::Relaxed) + millis(limits.idle)),
                        "idle",
                    ),
                    started => (
                        Some(started - 1 + millis(limits.header_read)),
                        "headers too slow",
                    ),
                }
            };
            // Look again at least this often: a request may start or end meanwhile.
            let recheck = millis(limits.header_read.min(limits.idle)) / 4 + 1;
            match deadline {
                Some(deadline) if deadline <= now => return why,
                Some(deadline) => {
                    let wait = (deadline - now).min(recheck);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                None => tokio::time::sleep(Duration::from_millis(recheck)).await,
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

/// The connection's socket, noting each read in its [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_stays_below_the_descriptor_limit() {
        assert_eq!(connection_limit(Some(1024)), 1024 - RESERVED_DESCRIPTORS);
        assert_eq!(connection_limit(Some(256)), 128);
        assert_eq!(connection_limit(Some(100)), 1);
        assert_eq!(connection_limit(Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(connection_limit(None), MAX_CONNECTIONS);
    }

    #[test]
    fn the_refusal_is_a_complete_503_with_retry_after() {
        let refusal = refusal();
        assert!(refusal.starts_with("HTTP/1.1 503 "));
        assert!(refusal.contains("Retry-After: 2\r\n"));
        assert!(refusal.ends_with("\r\n\r\n"));
    }
}
