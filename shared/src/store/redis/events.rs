//! The one pattern subscription of a `RedisStore`: `PSUBSCRIBE {prefix}events:*` on a
//! dedicated connection, feeding the in-process [`EventHub`]. It reconnects forever with
//! backoff; events published while it is down are lost (SSE clients re-read the record on
//! their own timer), never replayed.

use crate::events::EventHub;
use crate::job::JobEvent;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How long connecting and subscribing may take before it counts as a failure.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A quiet subscription is pinged this often: a half-open TCP connection would otherwise
/// swallow every event without an error.
const PING_INTERVAL: Duration = Duration::from_secs(15);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub(super) struct Subscriber {
    pub client: redis::Client,
    pub pattern: String,
    pub hub: EventHub,
    pub stop: CancellationToken,
}

impl Subscriber {
    /// Runs until `stop` is cancelled. `ready` gets the outcome of the first attempt.
    pub async fn run(self, ready: oneshot::Sender<Result<(), String>>) {
        let mut ready = Some(ready);
        let mut backoff = BACKOFF_FIRST;
        loop {
            let error = tokio::select! {
                _ = self.stop.cancelled() => return,
                error = self.session(&mut ready, &mut backoff) => error,
            };
            if let Some(ready) = ready.take() {
                let _ = ready.send(Err(error.clone()));
            }
            tracing::warn!(%error, retry_in = ?backoff, "job event subscription lost; resubscribing");
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One subscription, from connect to failure. Returns why it ended.
    async fn session(
        &self,
        ready: &mut Option<oneshot::Sender<Result<(), String>>>,
        backoff: &mut Duration,
    ) -> String {
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.psubscribe(&self.pattern).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(e)) => return format!("subscribing to {}: {e}", self.pattern),
            Err(_) => return format!("subscribing to {} timed out", self.pattern),
        };
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        } else {
            tracing::info!(pattern = %self.pattern, "job event subscription restored");
        }
        *backoff = BACKOFF_FIRST;
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.forward(message.get_payload_bytes()),
                    None => return "the subscription connection closed".into(),
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return format!("ping: {e}"),
                        Err(_) => return "ping timed out".into(),
                    }
                }
            }
        }
    }

    fn forward(&self, payload: &[u8]) {
        match serde_json::from_slice::<JobEvent>(payload) {
            Ok(event) => self.hub.publish(event),
            Err(error) => tracing::warn!(%error, "ignoring an unreadable job event"),
        }
    }
}

/// `prefix` with the glob characters of PSUBSCRIBE escaped, so a prefix such as `a*:`
/// matches only itself.
pub(super) fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("facefix:"), "facefix:");
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
