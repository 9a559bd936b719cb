//! The stage between a source and the app that embeds each batch's calls on the way. When the
//! endpoint fails, calls pass through as they are (the engine falls back to its n-grams) and the
//! endpoint rests before it is tried again, so an outage never backs the stream up.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::embeddings::EmbeddingClient;
use crate::model::{Call, EmbeddingsStatus};
use crate::outbox::Deliver;
use crate::sources::SourceEvent;

/// How long a failed endpoint rests before the next batch tries it again.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// A message that may carry a batch of calls to embed.
pub trait CallBatch {
    fn calls_mut(&mut self) -> Option<&mut Vec<Call>>;
}

/// Forwards every message from `from` to `to`, embedding the calls of each observed batch, and
/// reports the endpoint's state as a [`SourceEvent::Embeddings`] when it changes.
pub async fn run<M: CallBatch + From<SourceEvent> + Send>(
    client: EmbeddingClient,
    mut from: mpsc::Receiver<M>,
    to: mpsc::Sender<M>,
) {
    let mut resting_until: Option<Instant> = None;
    let mut healthy: Option<bool> = None;
    while let Some(mut action) = from.recv().await {
        if let Some(calls) = action.calls_mut()
            && !calls.is_empty()
            && resting_until.is_none_or(|until| Instant::now() >= until)
        {
            let status = match client.enrich(calls).await {
                Ok(_) => {
                    resting_until = None;
                    EmbeddingsStatus::Endpoint
                }
                Err(error) => {
                    resting_until = Some(Instant::now() + REST_AFTER_FAILURE);
                    tracing::warn!(%error, "embeddings endpoint failed; using hashed n-grams");
                    EmbeddingsStatus::Failing(error.to_string())
                }
            };
            // Only a change of state is worth a message.
            let ok = status == EmbeddingsStatus::Endpoint;
            if healthy != Some(ok) {
                healthy = Some(ok);
                if to.deliver(SourceEvent::Embeddings(status)).await.is_err() {
                    return;
                }
            }
        }
        if to.send(action).await.is_err() {
            return;
        }
    }
}
