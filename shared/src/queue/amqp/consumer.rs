//! Consumers: one background task per `consume()` call that owns a channel, restarts it
//! (with backoff, forever) whenever the connection or the channel breaks, and feeds the
//! caller's stream. The stream ends only when the caller drops it.

use super::link::{Backoff, Link, Session};
use super::topology;
use crate::job::JobMessage;
use crate::ports::{Acker, Consumer, Delivery, QueueError};
use crate::queue::held::{HeldDeliveries, HeldDelivery};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::BasicRejectOptions;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{FieldTable, ShortString};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a cancelled consumer waits for deliveries still in flight to hand them back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The queue a consumer reads and how it reports what it holds.
struct Source {
    queue: ShortString,
    held: HeldDeliveries,
}

/// Starts consuming `queue` with at most `prefetch` unsettled deliveries, each counted in
/// `held` from the moment it is received until it is settled or dropped.
pub(super) fn spawn(
    link: Arc<Link>,
    queue: ShortString,
    prefetch: u16,
    held: HeldDeliveries,
) -> Consumer {
    // The broker's prefetch is the real bound; this buffer only hands deliveries over.
    let (sender, receiver) = mpsc::channel(1);
    let source = Source { queue, held };
    tokio::spawn(run(link, source, prefetch.max(1), sender));
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|delivery| (delivery, receiver))
    })
    .boxed()
}

enum Ended {
    /// The caller dropped the stream: stop for good.
    Dropped,
    /// The channel or connection broke: start over.
    Broken(String),
}

async fn run(link: Arc<Link>, source: Source, prefetch: u16, sender: mpsc::Sender<Delivery>) {
    let mut backoff = Backoff::new();
    loop {
        if sender.is_closed() {
            return;
        }
        match consume_once(&link, &source, prefetch, &sender, &mut backoff).await {
            Ended::Dropped => return,
            Ended::Broken(reason) => {
                let delay = backoff.next_delay();
                tracing::warn!(queue = %source.queue, %reason, retry_in = ?delay, "consumer interrupted; restarting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = sender.closed() => return,
                }
            }
        }
    }
}

async fn consume_once(
    link: &Link,
    source: &Source,
    prefetch: u16,
    sender: &mpsc::Sender<Delivery>,
    backoff: &mut Backoff,
) -> Ended {
    let session = match link.session().await {
        Ok(session) => session,
        Err(e) => return Ended::Broken(e.to_string()),
    };
    // Redeclared on every start: a queue deleted under a running consumer comes back.
    if let Err(e) = link.declare_on(&session.connection).await {
        return Ended::Broken(e.to_string());
    }
    let channel = match session.connection.create_channel().await {
        Ok(channel) => channel,
        Err(e) => return Ended::Broken(format!("opening a channel: {e}")),
    };
    if let Err(e) = channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
    {
        return Ended::Broken(format!("setting prefetch: {e}"));
    }
    let queue = &source.queue;
    let tag = ShortString::from(format!("facefix-{}", uuid::Uuid::new_v4().simple()));
    let mut consumer = match channel
        .basic_consume(
            queue.clone(),
            tag.clone(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    {
        Ok(consumer) => consumer,
        Err(e) => return Ended::Broken(format!("consuming {queue}: {e}")),
    };
    backoff.reset();
    loop {
        tokio::select! {
            _ = sender.closed() => {
                cancel(&channel, tag, consumer).await;
                return Ended::Dropped;
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let Some(delivery) = to_delivery(delivery, source, &channel, &session).await else { continue };
                    // Fails only when the stream was dropped; the delivery's acker then
                    // hands the message back as it is dropped.
                    if sender.send(delivery).await.is_err() {
                        cancel(&channel, tag, consumer).await;
                        return Ended::Dropped;
                    }
                }
                Some(Err(e)) => return Ended::Broken(e.to_string()),
                None => return Ended::Broken("the broker cancelled the consumer".into()),
            }
        }
    }
}

/// Stops deliveries, then hands back those already received but not yet passed on.
/// Deliveries the caller still holds stay valid: their ackers keep the channel open.
async fn cancel(channel: &Channel, tag: ShortString, mut consumer: lapin::Consumer) {
    if channel
        .basic_cancel(tag, BasicCancelOptions::default())
        .await
        .is_err()
    {
        return;
    }
    while let Ok(Some(Ok(delivery))) = tokio::time::timeout(DRAIN_TIMEOUT, consumer.next()).await {
        let requeue = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        let _ = delivery.acker.nack(requeue).await;
    }
}

/// Maps a broker delivery to the port's. A body that is not a job message is rejected
/// without requeue (so it is dead-lettered, not redelivered forever) and never yielded.
async fn to_delivery(
    delivery: lapin::message::Delivery,
    source: &Source,
    channel: &Channel,
    session: &Arc<Session>,
) -> Option<Delivery> {
    let headers = delivery.properties.headers().as_ref();
    let message = match JobMessage::from_json(&delivery.data) {
        Ok(message) => message,
        Err(error) => {
            let message_id = delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.to_string());
            tracing::error!(queue = %source.queue, ?message_id, %error, bytes = delivery.data.len(),
                "unreadable queue message; dead-lettering it");
            let _ = delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
            return None;
        }
    };
    Some(Delivery {
        message,
        trace: topology::trace_from_headers(headers),
        previous_deliveries: topology::previous_deliveries(headers),
        acker: Box::new(AmqpAcker {
            inner: delivery.acker,
            settled: AtomicBool::new(false),
            held: source.held.hold(),
            _channel: channel.clone(),
            _session: session.clone(),
        }),
    })
}

struct AmqpAcker {
    inner: lapin::Acker,
    settled: AtomicBool,
    /// Counts the delivery as held until it is settled (or dropped, by its own drop).
    held: HeldDelivery,
    /// Keeps the consumer's channel (and connection) open while this delivery is being
    /// worked on, even after the consumer stream was dropped: closing the channel would
    /// requeue the message under the worker's feet.
    _channel: Channel,
    _session: Arc<Session>,
}

impl AmqpAcker {
    /// True for the first settlement only; later calls are no-ops, as in the embedded queue.
    fn claim(&self) -> bool {
        // Whatever the broker answers, this process no longer holds the delivery: acked,
        // or (on a closed channel) already handed back by the broker.
        self.held.release();
        !self.settled.swap(true, Ordering::SeqCst)
    }

    fn outcome(&self, what: &str, result: Result<bool, lapin::Error>) -> Result<(), QueueError> {
        match result {
            Ok(true) => Ok(()),
            // The channel closed since the delivery (broker restart): the broker has
            // already put the message back, and it will be delivered again.
            Ok(false) => Err(QueueError::Unavailable(format!(
                "cannot {what}: the channel closed; the message will be redelivered"
            ))),
            Err(e) => Err(QueueError::Unavailable(format!("cannot {what}: {e}"))),
        }
    }
}

#[async_trait]
impl Acker for AmqpAcker {
    async fn ack(&self) -> Result<(), QueueError> {
        if !self.claim() {
            return Ok(());
        }
        self.outcome("ack", self.inner.ack(BasicAckOptions::default()).await)
    }

    async fn requeue(&self) -> Result<(), QueueError> {
        if !self.claim() {
            return Ok(());
        }
        let options = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        self.outcome("requeue", self.inner.nack(options).await)
    }

    async fn dead_letter(&self) -> Result<(), QueueError> {
        if !self.claim() {
            return Ok(());
        }
        self.outcome(
            "dead-letter",
            self.inner
                .reject(BasicRejectOptions { requeue: false })
                .await,
        )
    }
}

impl Drop for AmqpAcker {
    /// A delivery dropped unsettled (its worker task died or was cancelled) is handed back
    /// at once, as the embedded queue does, instead of holding a prefetch slot until the
    /// channel closes.
    fn drop(&mut self) {
        if self.settled.swap(true, Ordering::SeqCst) || !self.inner.usable() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let acker = self.inner.clone();
        let keep_open = (self._channel.clone(), self._session.clone());
        runtime.spawn(async move {
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            let _ = acker.nack(requeue).await;
            drop(keep_open);
        });
    }
}
