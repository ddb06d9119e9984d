use crate::job::JobMessage;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;

/// W3C trace context (`traceparent`, `tracestate`) carried with a message.
pub type TraceHeaders = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker is unreachable, refused the message, or did not confirm in time. The
    /// outcome of a publish that fails this way is unknown: callers treat it as failed and
    /// consumers tolerate the duplicate.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The broker answered but the operation cannot succeed (bad configuration).
    #[error("queue error: {0}")]
    Fatal(String),
}

/// Counts of the job queue, for backpressure and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages waiting for a worker.
    pub ready: u64,
    /// Messages in the dead-letter queue.
    pub dead: u64,
}

/// Settles one delivery. Exactly one of the methods is called, once.
#[async_trait]
pub trait Acker: Send + Sync {
    /// Done: the message is removed.
    async fn ack(&self) -> Result<(), QueueError>;
    /// Transient failure: deliver again (counts towards the delivery limit).
    async fn requeue(&self) -> Result<(), QueueError>;
    /// Never deliver again: the message goes to the dead-letter queue.
    async fn dead_letter(&self) -> Result<(), QueueError>;
}

/// One delivered message.
pub struct Delivery {
    pub message: JobMessage,
    pub trace: TraceHeaders,
    /// How many times this message was delivered before (0 on the first delivery).
    pub previous_deliveries: u32,
    pub acker: Box<dyn Acker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("previous_deliveries", &self.previous_deliveries)
            .finish_non_exhaustive()
    }
}

/// A stream of deliveries. It ends only when the queue is shut down; adapters reconnect
/// by themselves after a broker restart.
pub type Consumer = BoxStream<'static, Delivery>;

/// The job queue: durable, at-least-once, with a delivery limit and a dead-letter queue.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Publishes a job and returns only once the broker has confirmed it is stored.
    async fn publish(&self, message: &JobMessage, trace: &TraceHeaders) -> Result<(), QueueError>;

    /// Starts consuming jobs with at most `prefetch` unsettled deliveries at a time.
    async fn consume(&self, prefetch: u16) -> Result<Consumer, QueueError>;

    /// Starts consuming the dead-letter queue (jobs past the delivery limit).
    async fn consume_dead_letters(&self) -> Result<Consumer, QueueError>;

    async fn stats(&self) -> Result<QueueStats, QueueError>;

    /// Readiness: Ok when the broker is reachable.
    async fn check(&self) -> Result<(), QueueError>;

    /// The delivery limit: a message delivered this many times more is dead-lettered.
    fn delivery_limit(&self) -> u32;
}
