//! A stand-in for a backend: the test's own axum routes served on a free loopback port, every
//! request recorded as it arrived, before any handler sees it, and a handle that stops the
//! server (dropping it does too).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One request as the server received it. A handler that answers by its place in the order of
/// arrival takes it as `Extension<Received>`.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its place in the order of arrival, from 0.
    pub index: usize,
    pub method: Method,
    /// As sent: the path, escapes and all, and the query.
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("a header in ASCII"))
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server has received: what the test has not taken yet, and how many in all.
#[derive(Default)]
struct Journal {
    received: Vec<Received>,
    count: usize,
}

pub struct FakeServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub url: String,
    journal: Arc<Mutex<Journal>>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `routes` (a fallback included) until stopped or dropped.
    pub async fn start(routes: Router) -> Self {
        let journal = Arc::new(Mutex::new(Journal::default()));
        let app = routes.layer(middleware::from_fn_with_state(Arc::clone(&journal), record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopping) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopping.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            journal,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Every request received since the last `take_received`, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.journal.lock().unwrap().received.clone()
    }

    /// As `received`, and forgets them, so the next look shows only what comes after.
    pub fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut self.journal.lock().unwrap().received)
    }

    /// Stops listening, lets the requests in flight finish, and returns once it has; what was
    /// received stays readable.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Records the request, then hands it, body and all, to the routes.
async fn record(
    State(journal): State<Arc<Mutex<Journal>>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the request's body");
    let received = {
        let mut journal = journal.lock().unwrap();
        let received = Received {
            index: journal.count,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            body: body.clone(),
        };
        journal.count += 1;
        journal.received.push(received.clone());
        received
    };
    parts.extensions.insert(received);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A server that accepts connections and keeps them open without a word: its url.
pub async fn silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}
