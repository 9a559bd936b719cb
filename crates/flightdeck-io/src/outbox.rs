//! How an I/O task reports: it sends its own event type on a channel of any message type made
//! from it, so sources, actuators and the store never name the app's actions.

use tokio::sync::mpsc;

/// The receiver has gone: the task can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// Sends an I/O task's event as the channel's message.
pub trait Report<E> {
    fn report(&self, event: E) -> Result<(), Gone>;
}

impl<E, M: From<E>> Report<E> for mpsc::UnboundedSender<M> {
    fn report(&self, event: E) -> Result<(), Gone> {
        self.send(M::from(event)).map_err(|_| Gone)
    }
}
