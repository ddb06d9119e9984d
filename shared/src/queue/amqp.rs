//! The RabbitMQ job queue (lapin): a durable quorum queue with a delivery limit and a
//! dead-letter queue, publisher confirms, manual acks, and reconnection after a broker
//! restart. See `topology` for the exchanges and queues it declares.

mod consumer;
mod link;
mod topology;

use super::held::HeldDeliveries;
use crate::config::QueueArgs;
use crate::job::JobMessage;
use crate::ports::{Consumer, JobQueue, QueueError, QueueStats, TraceHeaders};
use async_trait::async_trait;
use lapin::options::ExchangeDeleteOptions;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Confirmation};
use link::{Backoff, Link};
use std::sync::Arc;
use std::time::Duration;

/// Prefetch of the dead-letter consumer (the give-up handler does little per message).
const DEAD_LETTER_PREFETCH: u16 = 16;
/// How long `check()` and `stats()` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The RabbitMQ adapter of [`JobQueue`]. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct AmqpQueue {
    link: Arc<Link>,
    publish_timeout: Duration,
    held_jobs: HeldDeliveries,
    held_dead_letters: HeldDeliveries,
}

impl AmqpQueue {
    /// Connects to `url`, declares the topology named by `args.queue_prefix` and enables
    /// publisher confirms. Fails when the broker cannot be reached now; after that, lost
    /// connections are re-established by themselves.
    pub async fn connect(url: &str, args: &QueueArgs) -> Result<Self, QueueError> {
        let names = topology::Names::new(&args.queue_prefix)?;
        let queue = Self {
            link: Arc::new(Link::new(url, names, args.queue_delivery_limit)?),
            publish_timeout: args.publish_timeout,
            held_jobs: HeldDeliveries::jobs(),
            held_dead_letters: HeldDeliveries::dead_letters(),
        };
        queue.link.session().await?;
        Ok(queue)
    }

    /// Deliveries of the job queue handed out by this queue's consumers and not yet
    /// settled or dropped (what it adds to `facefix_queue_deliveries_held`). The broker
    /// counts them as unacked, not as ready.
    pub fn deliveries_held(&self) -> u64 {
        self.held_jobs.count()
    }

    /// Deletes the queues and exchanges of this prefix, messages included. For tests and
    /// for tearing down a deployment; never called by the roles.
    pub async fn delete_topology(&self) -> Result<(), QueueError> {
        let session = self.link.session().await?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(|e| topology::classify("opening a channel", e))?;
        let names = &self.link.names;
        for queue in [&names.jobs, &names.dead] {
            channel
                .queue_delete(queue.clone(), QueueDeleteOptions::default())
                .await
                .map_err(|e| topology::classify(&format!("deleting queue {queue}"), e))?;
        }
        for exchange in [&names.exchange, &names.dlx] {
            channel
                .exchange_delete(exchange.clone(), ExchangeDeleteOptions::default())
                .await
                .map_err(|e| topology::classify(&format!("deleting exchange {exchange}"), e))?;
        }
        let _ = channel.close(200, "topology deleted".into()).await;
        Ok(())
    }

    /// Closes the connection. Consumers that are still running reconnect, so drop them
    /// first; dropping every clone closes the connection too.
    pub async fn close(&self) {
        self.link.close().await;
    }

    fn properties(
        message: &JobMessage,
        trace: &TraceHeaders,
    ) -> Result<BasicProperties, QueueError> {
        let message_id = ShortString::try_new(message.job_id.to_string())
            .map_err(|e| QueueError::Fatal(format!("message id: {e}")))?;
        let timestamp = u64::try_from(message.enqueued_at.timestamp()).unwrap_or(0);
        Ok(BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message_id)
            .with_timestamp(timestamp)
            .with_headers(topology::trace_to_headers(trace)))
    }

    /// Publishes until the broker confirms. A publish that could not even be sent (no
    /// connection) is retried within the deadline; once sent, its fate is the broker's
    /// answer, and a lost connection before the confirm is a failure (outcome unknown).
    async fn publish_confirmed(
        &self,
        body: &[u8],
        properties: &BasicProperties,
        last_error: &mut String,
    ) -> Result<(), QueueError> {
        let names = &self.link.names;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut backoff = Backoff::new();
        loop {
            let sent = match self.link.session().await {
                Ok(session) => session
                    .publisher()
                    .basic_publish(
                        names.exchange.clone(),
                        topology::JOBS_ROUTING_KEY.into(),
                        options,
                        body,
                        properties.clone(),
                    )
                    .await
                    .map_err(|e| QueueError::Unavailable(format!("publishing: {e}"))),
                Err(e) => Err(e),
            };
            let confirm = match sent {
                Ok(confirm) => confirm,
                Err(QueueError::Fatal(e)) => return Err(QueueError::Fatal(e)),
                Err(QueueError::Unavailable(e)) => {
                    *last_error = e;
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            return match confirm.await {
                Ok(Confirmation::Ack(None)) => Ok(()),
                Ok(Confirmation::Ack(Some(returned))) => {
                    // Unroutable: the queue or its binding is gone. Put them back for the
                    // next publish; this one failed.
                    self.link.redeclare().await;
                    Err(QueueError::Unavailable(format!(
                        "the broker could not route the message ({} {})",
                        returned.reply_code, returned.reply_text
                    )))
                }
                Ok(Confirmation::Nack(_)) => Err(QueueError::Unavailable(
                    "the broker refused the message (nack)".into(),
                )),
                Ok(Confirmation::NotRequested) => Err(QueueError::Fatal(
                    "publisher confirms are not enabled".into(),
                )),
                Err(e) => Err(QueueError::Unavailable(format!(
                    "connection lost before the broker confirmed: {e}"
                ))),
            };
        }
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn publish(&self, message: &JobMessage, trace: &TraceHeaders) -> Result<(), QueueError> {
        let properties = Self::properties(message, trace)?;
        let body = message.to_json();
        let mut last_error = String::from("no connection to the broker");
        let attempt = self.publish_confirmed(&body, &properties, &mut last_error);
        match tokio::time::timeout(self.publish_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(QueueError::Unavailable(format!(
                "no confirm from the broker within {:?} ({last_error})",
                self.publish_timeout
            ))),
        }
    }

    async fn consume(&self, prefetch: u16) -> Result<Consumer, QueueError> {
        Ok(consumer::spawn(
            self.link.clone(),
            self.link.names.jobs.clone(),
            prefetch,
            self.held_jobs.clone(),
        ))
    }

    async fn consume_dead_letters(&self) -> Result<Consumer, QueueError> {
        Ok(consumer::spawn(
            self.link.clone(),
            self.link.names.dead.clone(),
            DEAD_LETTER_PREFETCH,
            self.held_dead_letters.clone(),
        ))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let probe = async {
            let session = self.link.session().await?;
            // A passive declare of a missing queue closes its channel: use a private one.
            let channel = session
                .connection
                .create_channel()
                .await
                .map_err(|e| topology::classify("opening a channel", e))?;
            let passive = QueueDeclareOptions::default().passive();
            let mut counts = [0u64; 2];
            for (count, queue) in counts
                .iter_mut()
                .zip([&self.link.names.jobs, &self.link.names.dead])
            {
                let declared = channel
                    .queue_declare(queue.clone(), passive, FieldTable::default())
                    .await
                    .map_err(|e| topology::classify(&format!("counting {queue}"), e))?;
                *count = u64::from(declared.message_count());
            }
            let _ = channel.close(200, "stats".into()).await;
            Ok(QueueStats {
                ready: counts[0],
                dead: counts[1],
            })
        };
        tokio::time::timeout(PROBE_TIMEOUT, probe)
            .await
            .unwrap_or_else(|_| Err(QueueError::Unavailable("queue stats timed out".into())))
    }

    async fn check(&self) -> Result<(), QueueError> {
        tokio::time::timeout(PROBE_TIMEOUT, self.link.session())
            .await
            .map_err(|_| QueueError::Unavailable("broker check timed out".into()))?
            .map(|_| ())
    }

    fn delivery_limit(&self) -> u32 {
        self.link.delivery_limit
    }
}
