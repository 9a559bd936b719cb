//! How an I/O task reports: it sends its own event type on a channel of any message type made
//! from it, so sources, actuators and the store never name the app's actions. Reports of work
//! done go on an unbounded channel ([`Report`]); data goes on a bounded one ([`Deliver`]), so a
//! consumer that falls behind slows the source down instead of growing memory.

use std::future::Future;

use tokio::sync::mpsc;

/// The receiver has gone: the task can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// Sends an I/O task's event as the channel's message, at once.
pub trait Report<E> {
    fn report(&self, event: E) -> Result<(), Gone>;
}

impl<E, M: From<E>> Report<E> for mpsc::UnboundedSender<M> {
    fn report(&self, event: E) -> Result<(), Gone> {
        self.send(M::from(event)).map_err(|_| Gone)
    }
}

/// Sends a source's event as the channel's message, waiting while the channel is full.
pub trait Deliver<E> {
    fn deliver(&self, event: E) -> impl Future<Output = Result<(), Gone>> + Send;
}

impl<E: Send, M: From<E> + Send> Deliver<E> for mpsc::Sender<M> {
    async fn deliver(&self, event: E) -> Result<(), Gone> {
        self.send(M::from(event)).await.map_err(|_| Gone)
    }
}
