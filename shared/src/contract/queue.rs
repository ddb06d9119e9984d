//! What every [`JobQueue`] adapter must do.

use super::{PATIENCE, QUIET, within};
use crate::job::{JobId, JobMessage};
use crate::ports::{Consumer, Delivery, JobQueue, QueueStats, TraceHeaders};
use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use std::sync::Arc;

/// Makes queues for the properties.
#[async_trait]
pub trait QueueHarness: Send + Sync {
    /// A fresh, empty queue of its own (nothing else publishes to or consumes from it)
    /// with this delivery limit.
    async fn fresh(&self, delivery_limit: u32) -> Arc<dyn JobQueue>;

    /// Job-queue deliveries that the queues made by this harness have handed out and not
    /// yet seen settled or dropped: the adapters' own count behind
    /// `facefix_queue_deliveries_held` (the process-wide gauge is shared by parallel tests).
    fn deliveries_held(&self) -> u64;
}

fn message() -> JobMessage {
    JobMessage::new(JobId::new_random(), Utc::now())
}

fn trace() -> TraceHeaders {
    let mut trace = TraceHeaders::new();
    trace.insert(
        "traceparent".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    trace.insert("tracestate".into(), "facefix=contract".into());
    trace
}

async fn publish(queue: &dyn JobQueue, message: &JobMessage) {
    queue
        .publish(message, &TraceHeaders::new())
        .await
        .expect("publish");
}

async fn next(consumer: &mut Consumer, what: &str) -> Delivery {
    within(what, consumer.next())
        .await
        .unwrap_or_else(|| panic!("the consumer ended while waiting for {what}"))
}

/// Panics if the consumer yields anything within [`QUIET`].
async fn nothing_more(consumer: &mut Consumer, what: &str) {
    if let Ok(Some(delivery)) = tokio::time::timeout(QUIET, consumer.next()).await {
        panic!(
            "{what}: got an unexpected delivery of job {}",
            delivery.message.job_id
        );
    }
}

async fn stats_become(queue: &dyn JobQueue, expected: QueueStats) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let stats = queue.stats().await.expect("stats");
        if stats == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stats stayed {stats:?}, expected {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn round_trip_carries_message_and_trace_headers(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    let sent = message();
    queue.publish(&sent, &trace()).await.expect("publish");
    let mut consumer = queue.consume(1).await.expect("consume");
    let delivery = next(&mut consumer, "the published message").await;
    assert_eq!(delivery.message, sent);
    assert_eq!(delivery.trace, trace());
    assert_eq!(delivery.previous_deliveries, 0);
    delivery.acker.ack().await.expect("ack");
}

pub async fn prefetch_bounds_unsettled_deliveries(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    for _ in 0..3 {
        publish(queue.as_ref(), &message()).await;
    }
    let mut consumer = queue.consume(2).await.expect("consume");
    let first = next(&mut consumer, "delivery 1").await;
    let second = next(&mut consumer, "delivery 2").await;
    nothing_more(&mut consumer, "with 2 unsettled deliveries and prefetch 2").await;
    let first_id = first.message.job_id;
    first.acker.ack().await.expect("ack");
    // Dropped too: the embedded queue frees the slot when the settled delivery goes.
    drop(first);
    let third = next(&mut consumer, "delivery 3 once a slot is free").await;
    let ids = [first_id, second.message.job_id, third.message.job_id];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "three distinct messages"
    );
    second.acker.ack().await.expect("ack");
    third.acker.ack().await.expect("ack");
}

pub async fn ack_removes_the_message(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    publish(queue.as_ref(), &message()).await;
    let mut consumer = queue.consume(4).await.expect("consume");
    next(&mut consumer, "the message")
        .await
        .acker
        .ack()
        .await
        .expect("ack");
    nothing_more(&mut consumer, "after the ack").await;
    drop(consumer);
    stats_become(queue.as_ref(), QueueStats { ready: 0, dead: 0 }).await;
    let mut again = queue.consume(4).await.expect("consume");
    nothing_more(&mut again, "a new consumer after the ack").await;
}

pub async fn requeue_redelivers_with_a_higher_count(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    let sent = message();
    queue.publish(&sent, &trace()).await.expect("publish");
    let mut consumer = queue.consume(1).await.expect("consume");
    let first = next(&mut consumer, "the first delivery").await;
    assert_eq!(first.previous_deliveries, 0);
    first.acker.requeue().await.expect("requeue");
    drop(first);
    let second = next(&mut consumer, "the redelivery").await;
    assert_eq!(second.message, sent);
    assert_eq!(second.trace, trace(), "trace headers survive a requeue");
    assert_eq!(second.previous_deliveries, 1);
    second.acker.ack().await.expect("ack");
}

pub async fn past_the_delivery_limit_messages_are_dead_lettered(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(1).await;
    let sent = message();
    publish(queue.as_ref(), &sent).await;
    let mut consumer = queue.consume(1).await.expect("consume");
    for expected in 0..=1 {
        let delivery = next(&mut consumer, "a delivery within the limit").await;
        assert_eq!(delivery.message.job_id, sent.job_id);
        assert_eq!(delivery.previous_deliveries, expected);
        delivery.acker.requeue().await.expect("requeue");
    }
    nothing_more(&mut consumer, "past the delivery limit").await;
    stats_become(queue.as_ref(), QueueStats { ready: 0, dead: 1 }).await;
    let mut dead = queue
        .consume_dead_letters()
        .await
        .expect("consume dead letters");
    let delivery = next(&mut dead, "the dead-lettered message").await;
    assert_eq!(delivery.message.job_id, sent.job_id);
    delivery.acker.ack().await.expect("ack");
    drop(dead);
    stats_become(queue.as_ref(), QueueStats { ready: 0, dead: 0 }).await;
}

pub async fn dead_letter_moves_the_message_to_the_dead_letter_queue(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    let sent = message();
    queue.publish(&sent, &trace()).await.expect("publish");
    let mut consumer = queue.consume(1).await.expect("consume");
    next(&mut consumer, "the message")
        .await
        .acker
        .dead_letter()
        .await
        .expect("dead-letter");
    nothing_more(&mut consumer, "after dead-lettering").await;
    let mut dead = queue
        .consume_dead_letters()
        .await
        .expect("consume dead letters");
    let delivery = next(&mut dead, "the dead-lettered message").await;
    assert_eq!(delivery.message, sent);
    assert_eq!(
        delivery.trace,
        trace(),
        "trace headers survive dead-lettering"
    );
    delivery.acker.ack().await.expect("ack");
}

pub async fn a_delivery_dropped_unsettled_is_redelivered(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    let sent = message();
    publish(queue.as_ref(), &sent).await;
    let mut consumer = queue.consume(1).await.expect("consume");
    drop(next(&mut consumer, "the message").await);
    let again = next(&mut consumer, "the redelivery of the dropped delivery").await;
    assert_eq!(again.message.job_id, sent.job_id);
    assert_eq!(again.previous_deliveries, 1);
    again.acker.ack().await.expect("ack");
}

pub async fn dropping_the_consumer_redelivers_what_it_held(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    let sent = message();
    publish(queue.as_ref(), &sent).await;
    let mut consumer = queue.consume(2).await.expect("consume");
    let delivery = next(&mut consumer, "the message").await;
    drop(consumer);
    drop(delivery);
    let mut again = queue.consume(2).await.expect("consume again");
    let redelivered = next(&mut again, "the redelivery to a new consumer").await;
    assert_eq!(redelivered.message.job_id, sent.job_id);
    assert!(redelivered.previous_deliveries >= 1);
    redelivered.acker.ack().await.expect("ack");
}

pub async fn deliveries_can_be_settled_after_the_consumer_is_dropped(h: Arc<dyn QueueHarness>) {
    // A worker shutting down stops consuming first, then finishes and acks in-flight jobs.
    let queue = h.fresh(3).await;
    publish(queue.as_ref(), &message()).await;
    let mut consumer = queue.consume(2).await.expect("consume");
    let delivery = next(&mut consumer, "the message").await;
    drop(consumer);
    tokio::time::sleep(QUIET).await;
    delivery
        .acker
        .ack()
        .await
        .expect("ack after the consumer was dropped");
    drop(delivery);
    stats_become(queue.as_ref(), QueueStats { ready: 0, dead: 0 }).await;
    let mut again = queue.consume(2).await.expect("consume again");
    nothing_more(&mut again, "after acking a drained delivery").await;
}

pub async fn stats_count_ready_and_dead_messages(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    stats_become(queue.as_ref(), QueueStats { ready: 0, dead: 0 }).await;
    for _ in 0..3 {
        publish(queue.as_ref(), &message()).await;
    }
    stats_become(queue.as_ref(), QueueStats { ready: 3, dead: 0 }).await;
    let mut consumer = queue.consume(1).await.expect("consume");
    next(&mut consumer, "a message")
        .await
        .acker
        .dead_letter()
        .await
        .expect("dead-letter");
    drop(consumer);
    stats_become(queue.as_ref(), QueueStats { ready: 2, dead: 1 }).await;
}

pub async fn check_and_delivery_limit(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(5).await;
    queue.check().await.expect("check");
    assert_eq!(queue.delivery_limit(), 5);
}

pub async fn deliveries_are_counted_as_held_until_settled_or_dropped(h: Arc<dyn QueueHarness>) {
    let queue = h.fresh(3).await;
    for _ in 0..4 {
        publish(queue.as_ref(), &message()).await;
    }
    assert_eq!(h.deliveries_held(), 0, "nothing is held before consuming");
    let mut consumer = queue.consume(4).await.expect("consume");
    let mut taken = Vec::new();
    for n in 1..=4 {
        taken.push(next(&mut consumer, "a delivery").await);
        let held = h.deliveries_held();
        assert!(
            held >= n,
            "{n} deliveries taken, only {held} counted as held"
        );
    }
    assert_eq!(h.deliveries_held(), 4, "every delivery is held once");
    // Settled after the consumer is gone, so that nothing is delivered again meanwhile.
    drop(consumer);
    let [acked, requeued, dead_lettered, dropped] = <[Delivery; 4]>::try_from(taken)
        .unwrap_or_else(|_| unreachable!("four deliveries were taken"));
    acked.acker.ack().await.expect("ack");
    assert_eq!(h.deliveries_held(), 3, "an ack releases the delivery");
    acked.acker.ack().await.expect("a second ack is a no-op");
    assert_eq!(h.deliveries_held(), 3, "a second ack releases nothing more");
    requeued.acker.requeue().await.expect("requeue");
    assert_eq!(h.deliveries_held(), 2, "a requeue releases the delivery");
    dead_lettered
        .acker
        .dead_letter()
        .await
        .expect("dead-letter");
    assert_eq!(
        h.deliveries_held(),
        1,
        "dead-lettering releases the delivery"
    );
    drop(dropped);
    assert_eq!(
        h.deliveries_held(),
        0,
        "dropping an unsettled delivery releases it"
    );
    drop((acked, requeued, dead_lettered));
    assert_eq!(
        h.deliveries_held(),
        0,
        "dropping settled deliveries releases nothing more"
    );
}
