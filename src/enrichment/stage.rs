//! The stage between a source and the app that embeds each batch's calls on the way. When the
//! endpoint fails, calls pass through as they are (the engine falls back to its n-grams) and the
//! endpoint rests before it is tried again, so an outage never backs the stream up.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::embeddings::EmbeddingClient;
use crate::app::{Action, EmbeddingsStatus};

/// How long a failed endpoint rests before the next batch tries it again.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// Forwards every action from `from` to `to`, embedding the calls of each observed batch.
pub async fn run(
    client: EmbeddingClient,
    mut from: mpsc::UnboundedReceiver<Action>,
    to: mpsc::UnboundedSender<Action>,
) {
    let mut resting_until: Option<Instant> = None;
    let mut healthy: Option<bool> = None;
    while let Some(mut action) = from.recv().await {
        if let Action::Observed { calls, .. } = &mut action
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
                if to.send(Action::Embeddings(status)).is_err() {
                    return;
                }
            }
        }
        if to.send(action).is_err() {
            return;
        }
    }
}
