//! Deliveries a consumer holds: handed out by the queue and not yet acked, requeued,
//! dead-lettered or dropped.
//!
//! The broker's ready count leaves these out, so an autoscaler reading it alone sees an
//! empty queue while every worker is busy with prefetched jobs. Each adapter gives every
//! delivery's acker a [`HeldDelivery`]: it counts the delivery in the process-wide gauge
//! `facefix_queue_deliveries_held` and in its queue's own count, and uncounts it once,
//! when the delivery is settled or, failing that, when the acker is dropped. A guard in
//! the acker covers every way a delivery can end, including a worker task that dies.

use crate::metrics::{HELD_DEAD_LETTERS, HELD_JOBS, metrics};
use prometheus::IntGauge;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The deliveries held from one queue (the job queue or the dead-letter queue) of one
/// adapter. Cheap to clone; clones share the count.
#[derive(Clone)]
pub(crate) struct HeldDeliveries {
    count: Arc<AtomicU64>,
    gauge: IntGauge,
}

impl HeldDeliveries {
    fn new(label: &str) -> Self {
        Self {
            count: Arc::new(AtomicU64::new(0)),
            gauge: metrics().queue_deliveries_held.with_label_values(&[label]),
        }
    }

    /// Deliveries from the job queue: the work the autoscaling signal adds to the backlog.
    pub(crate) fn jobs() -> Self {
        Self::new(HELD_JOBS)
    }

    /// Deliveries from the dead-letter queue (reported apart: they are no work to scale on).
    pub(crate) fn dead_letters() -> Self {
        Self::new(HELD_DEAD_LETTERS)
    }

    /// Counts one more delivery, until the returned guard is released or dropped.
    pub(crate) fn hold(&self) -> HeldDelivery {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.gauge.inc();
        HeldDelivery {
            count: self.count.clone(),
            gauge: self.gauge.clone(),
            released: AtomicBool::new(false),
        }
    }

    /// How many deliveries of this queue are held now.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

/// One held delivery, counted until [`release`](Self::release) or drop, whichever is first.
pub(crate) struct HeldDelivery {
    count: Arc<AtomicU64>,
    gauge: IntGauge,
    released: AtomicBool,
}

impl HeldDelivery {
    /// Uncounts the delivery; later calls (and the drop) do nothing.
    pub(crate) fn release(&self) {
        if !self.released.swap(true, Ordering::SeqCst) {
            self.count.fetch_sub(1, Ordering::SeqCst);
            self.gauge.dec();
        }
    }
}

impl Drop for HeldDelivery {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_counted_until_released_or_dropped_once() {
        let held = HeldDeliveries::jobs();
        let first = held.hold();
        let second = held.hold();
        assert_eq!(held.count(), 2);
        first.release();
        first.release();
        assert_eq!(held.count(), 1, "a second release uncounts nothing");
        drop(first);
        assert_eq!(
            held.count(),
            1,
            "dropping a released delivery uncounts nothing"
        );
        drop(second);
        assert_eq!(
            held.count(),
            0,
            "dropping an unreleased delivery uncounts it"
        );
    }

    #[test]
    fn the_two_queues_are_counted_apart() {
        let jobs = HeldDeliveries::jobs();
        let dead = HeldDeliveries::dead_letters();
        let _job = jobs.hold();
        assert_eq!((jobs.count(), dead.count()), (1, 0));
        let clone = jobs.clone();
        let _another = clone.hold();
        assert_eq!(jobs.count(), 2, "clones share the count");
    }
}
