//! The in-process queue of embedded mode: the same semantics as the RabbitMQ adapter
//! (prefetch, manual settlement, delivery limit, dead-lettering, requeue of deliveries
//! dropped unsettled), without a broker.

use super::held::{HeldDeliveries, HeldDelivery};
use crate::job::JobMessage;
use crate::ports::{Acker, Consumer, Delivery, JobQueue, QueueError, QueueStats, TraceHeaders};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
struct Entry {
    message: JobMessage,
    trace: TraceHeaders,
    previous_deliveries: u32,
}

#[derive(Default)]
struct Lane {
    entries: Mutex<VecDeque<Entry>>,
    notify: Notify,
}

impl Lane {
    fn push(&self, entry: Entry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(entry);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn len(&self) -> u64 {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }

    async fn next(&self) -> Entry {
        loop {
            let notified = self.notify.notified();
            if let Some(entry) = self.pop() {
                // Pass the wake-up on: another consumer may be waiting for the next entry.
                if self.len() > 0 {
                    self.notify.notify_one();
                }
                return entry;
            }
            notified.await;
        }
    }
}

struct Inner {
    jobs: Lane,
    dead: Lane,
    delivery_limit: u32,
    held_jobs: HeldDeliveries,
    held_dead_letters: HeldDeliveries,
}

/// The embedded job queue.
#[derive(Clone)]
pub struct MemoryQueue {
    inner: Arc<Inner>,
}

impl MemoryQueue {
    pub fn new(delivery_limit: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                jobs: Lane::default(),
                dead: Lane::default(),
                delivery_limit,
                held_jobs: HeldDeliveries::jobs(),
                held_dead_letters: HeldDeliveries::dead_letters(),
            }),
        }
    }

    /// Deliveries of the job queue handed out by this queue's consumers and not yet
    /// settled or dropped (what it adds to `facefix_queue_deliveries_held`).
    pub fn deliveries_held(&self) -> u64 {
        self.inner.held_jobs.count()
    }

    fn consumer(&self, dead: bool, prefetch: u16) -> Consumer {
        let permits = Arc::new(Semaphore::new(usize::from(prefetch.max(1))));
        let inner = self.inner.clone();
        futures_util::stream::unfold((inner, permits), move |(inner, permits)| async move {
            let permit = permits.clone().acquire_owned().await.ok()?;
            let (lane, held) = if dead {
                (&inner.dead, &inner.held_dead_letters)
            } else {
                (&inner.jobs, &inner.held_jobs)
            };
            let entry = lane.next().await;
            let held = held.hold();
            let delivery = Delivery {
                message: entry.message.clone(),
                trace: entry.trace.clone(),
                previous_deliveries: entry.previous_deliveries,
                acker: Box::new(MemoryAcker {
                    inner: inner.clone(),
                    entry,
                    dead,
                    settled: AtomicBool::new(false),
                    held,
                    _permit: permit,
                }),
            };
            Some((delivery, (inner, permits)))
        })
        .boxed()
    }
}

struct MemoryAcker {
    inner: Arc<Inner>,
    entry: Entry,
    /// Whether this delivery came from the dead-letter lane.
    dead: bool,
    settled: AtomicBool,
    /// Counts the delivery as held until it is settled (or dropped, by its own drop).
    held: HeldDelivery,
    /// Held until settled, so the consumer's prefetch bounds unsettled deliveries.
    _permit: OwnedSemaphorePermit,
}

impl MemoryAcker {
    fn settle_once(&self) -> bool {
        self.held.release();
        !self.settled.swap(true, Ordering::SeqCst)
    }

    /// Puts the message back, or dead-letters it once past the delivery limit (the way a
    /// quorum queue counts redeliveries).
    fn return_to_queue(&self) {
        let mut entry = self.entry.clone();
        entry.previous_deliveries += 1;
        // Dead letters stay dead; live ones past the limit join them.
        if self.dead || entry.previous_deliveries > self.inner.delivery_limit {
            self.inner.dead.push(entry);
        } else {
            self.inner.jobs.push(entry);
        }
    }
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(&self) -> Result<(), QueueError> {
        self.settle_once();
        Ok(())
    }

    async fn requeue(&self) -> Result<(), QueueError> {
        if self.settle_once() {
            self.return_to_queue();
        }
        Ok(())
    }

    async fn dead_letter(&self) -> Result<(), QueueError> {
        if self.settle_once() && !self.dead {
            self.inner.dead.push(self.entry.clone());
        }
        Ok(())
    }
}

impl Drop for MemoryAcker {
    /// A delivery dropped unsettled (its worker task died) goes back, as it would when a
    /// consumer's channel closes.
    fn drop(&mut self) {
        if self.settle_once() {
            self.return_to_queue();
        }
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn publish(&self, message: &JobMessage, trace: &TraceHeaders) -> Result<(), QueueError> {
        self.inner.jobs.push(Entry {
            message: message.clone(),
            trace: trace.clone(),
            previous_deliveries: 0,
        });
        Ok(())
    }

    async fn consume(&self, prefetch: u16) -> Result<Consumer, QueueError> {
        Ok(self.consumer(false, prefetch))
    }

    async fn consume_dead_letters(&self) -> Result<Consumer, QueueError> {
        Ok(self.consumer(true, 16))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        Ok(QueueStats {
            ready: self.inner.jobs.len(),
            dead: self.inner.dead.len(),
        })
    }

    async fn check(&self) -> Result<(), QueueError> {
        Ok(())
    }

    fn delivery_limit(&self) -> u32 {
        self.inner.delivery_limit
    }
}
