//! Waiting for something to happen rather than for a time to pass: a condition polled until it
//! holds, and a failure naming what never happened once the patience is spent.

use std::time::{Duration, Instant};

/// Far past what any wait takes on a loaded machine; only a broken test waits this long.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Often enough that a wait ends a moment after its condition holds.
const POLL: Duration = Duration::from_millis(10);

/// Polls `done` until it holds; fails saying it was waiting for `what` after [`PATIENCE`].
#[track_caller]
pub fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// [`until`] for a test on tokio: the runtime goes on with its other tasks between polls.
pub async fn until_async(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
