//! The contract suites against the real adapters (RabbitMQ, Redis, S3), plus what only a
//! real adapter can show (unreadable messages, key layout). Run with the services of
//! `deploy/dev-services.sh` and `FACEFIX_TEST_SERVICES=1`; without it every test says it
//! was skipped and passes. Each test works under its own queue, key and object prefix and
//! deletes them afterwards, so tests run in parallel and leave nothing behind.

mod common;

use async_trait::async_trait;
use common::*;
use facefix_shared::blob::S3BlobStore;
use facefix_shared::contract::{BlobHarness, QueueHarness, StoreHarness, StorePair, within};
use facefix_shared::job::{JobId, JobMessage};
use facefix_shared::ports::{BlobStore, JobQueue, JobStore, QueueStats, TraceHeaders};
use facefix_shared::queue::AmqpQueue;
use facefix_shared::store::RedisStore;
use futures_util::{FutureExt, StreamExt};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `property`, then `cleanup` whether it passed or panicked.
async fn guarded<H: ?Sized, F, Fut, C, CFut>(harness: Arc<H>, property: F, cleanup: C)
where
    F: FnOnce(Arc<H>) -> Fut,
    Fut: Future<Output = ()>,
    C: FnOnce() -> CFut,
    CFut: Future<Output = ()>,
{
    let outcome = AssertUnwindSafe(property(harness)).catch_unwind().await;
    cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// ------------------------------------------------------------------------------- queue

#[derive(Default)]
struct Queues {
    opened: Mutex<Vec<AmqpQueue>>,
}

impl Queues {
    /// A queue under a new prefix, and the prefix.
    async fn open(&self, delivery_limit: u32) -> (AmqpQueue, String) {
        let prefix = format!("facefix-test-{}", unique());
        let queue = AmqpQueue::connect(&amqp_url(), &queue_args(&prefix, delivery_limit))
            .await
            .expect("connecting to RabbitMQ (is deploy/dev-services.sh running?)");
        lock(&self.opened).push(queue.clone());
        (queue, prefix)
    }
}

#[async_trait]
impl QueueHarness for Queues {
    async fn fresh(&self, delivery_limit: u32) -> Arc<dyn JobQueue> {
        Arc::new(self.open(delivery_limit).await.0)
    }
}

impl Queues {
    async fn cleanup(&self) {
        // Let dropped consumers cancel first, or one could redeclare what is deleted.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let opened = std::mem::take(&mut *lock(&self.opened));
        for queue in opened {
            if let Err(e) = queue.delete_topology().await {
                eprintln!("cleanup: {e}");
            }
            queue.close().await;
        }
    }
}

async fn run_queue<F, Fut>(name: &str, property: F)
where
    F: FnOnce(Arc<dyn QueueHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    if !services_enabled(name) {
        return;
    }
    let harness = Arc::new(Queues::default());
    let cleanup = harness.clone();
    guarded(harness as Arc<dyn QueueHarness>, property, || async move {
        cleanup.cleanup().await
    })
    .await;
}

// ------------------------------------------------------------------------------- store

#[derive(Default)]
struct Stores {
    prefixes: Mutex<Vec<String>>,
}

#[async_trait]
impl StoreHarness for Stores {
    async fn fresh(&self) -> StorePair {
        let prefix = format!("facefix-test-{}:", unique());
        lock(&self.prefixes).push(prefix.clone());
        let connect = || async {
            RedisStore::connect(&redis_url(), &store_args(&prefix))
                .await
                .expect("connecting to Redis (is deploy/dev-services.sh running?)")
        };
        StorePair {
            a: Arc::new(connect().await),
            b: Arc::new(connect().await),
        }
    }
}

async fn run_store<F, Fut>(name: &str, property: F)
where
    F: FnOnce(Arc<dyn StoreHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    if !services_enabled(name) {
        return;
    }
    let harness = Arc::new(Stores::default());
    let cleanup = harness.clone();
    guarded(harness as Arc<dyn StoreHarness>, property, || async move {
        let prefixes = std::mem::take(&mut *lock(&cleanup.prefixes));
        for prefix in prefixes {
            delete_redis_keys(&prefix).await;
        }
    })
    .await;
}

// ------------------------------------------------------------------------------- blob

#[derive(Default)]
struct Buckets {
    opened: Mutex<Vec<S3BlobStore>>,
}

#[async_trait]
impl BlobHarness for Buckets {
    async fn fresh(&self) -> Arc<dyn BlobStore> {
        let store = S3BlobStore::connect(&blob_args(&format!("contract-{}", unique())))
            .await
            .expect("connecting to S3 (is deploy/dev-services.sh running?)");
        lock(&self.opened).push(store.clone());
        Arc::new(store)
    }
}

/// Deletes every object under the store's prefix.
async fn empty_prefix(store: &S3BlobStore) {
    let location = store.location();
    let listed = match store
        .client()
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(format!("{}/", location.prefix))
        .send()
        .await
    {
        Ok(listed) => listed,
        Err(e) => return eprintln!("cleanup of {}/: {e}", location.prefix),
    };
    for object in listed.contents() {
        if let Some(key) = object.key() {
            let _ = store
                .client()
                .delete_object()
                .bucket(&location.bucket)
                .key(key)
                .send()
                .await;
        }
    }
}

async fn run_blob<F, Fut>(name: &str, property: F)
where
    F: FnOnce(Arc<dyn BlobHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    if !services_enabled(name) {
        return;
    }
    let harness = Arc::new(Buckets::default());
    let cleanup = harness.clone();
    guarded(harness as Arc<dyn BlobHarness>, property, || async move {
        let opened = std::mem::take(&mut *lock(&cleanup.opened));
        for store in opened {
            empty_prefix(&store).await;
        }
    })
    .await;
}

mod queue {
    use super::*;
    facefix_shared::queue_contract_tests!(run_queue);
}

mod store {
    use super::*;
    facefix_shared::store_contract_tests!(run_store);
}

mod blob {
    use super::*;
    facefix_shared::blob_contract_tests!(run_blob);
}

// ------------------------------------------------------------ real-adapter-only checks

/// A body that is not a job message is dead-lettered, never yielded, and does not stop
/// the messages after it.
async fn unreadable_messages_are_dead_lettered(h: Arc<Queues>) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    let (queue, prefix) = h.open(3).await;
    // Published around the adapter, as a foreign or buggy producer would.
    let connection =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    channel
        .basic_publish(
            prefix.as_str().into(),
            "jobs".into(),
            BasicPublishOptions::default(),
            b"{not json",
            lapin::BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    let _ = connection.close(200, "done".into()).await;

    let good = JobMessage::new(JobId::new_random(), chrono::Utc::now());
    queue
        .publish(&good, &TraceHeaders::new())
        .await
        .expect("publish");
    let mut consumer = queue.consume(4).await.expect("consume");
    let delivery = within("the readable message", consumer.next())
        .await
        .expect("a delivery");
    assert_eq!(
        delivery.message, good,
        "the unreadable message is skipped, not yielded"
    );
    delivery.acker.ack().await.expect("ack");
    drop(delivery);
    facefix_shared::contract::eventually("the unreadable message is dead-lettered", || {
        let queue = queue.clone();
        async move { queue.stats().await.expect("stats") == QueueStats { ready: 0, dead: 1 } }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_unreadable_messages_are_dead_lettered() {
    if !services_enabled("amqp_unreadable_messages_are_dead_lettered") {
        return;
    }
    let harness = Arc::new(Queues::default());
    let cleanup = harness.clone();
    guarded(
        harness,
        unreadable_messages_are_dead_lettered,
        || async move { cleanup.cleanup().await },
    )
    .await;
}

/// The key layout other tools (and operators) rely on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_follow_the_documented_layout() {
    if !services_enabled("redis_keys_follow_the_documented_layout") {
        return;
    }
    let prefix = format!("facefix-test-{}:", unique());
    let check = async {
        let store = RedisStore::connect(&redis_url(), &store_args(&prefix))
            .await
            .expect("connect");
        let input = facefix_shared::job::ImageInfo {
            format: facefix_shared::job::ImageFormat::Png,
            content_type: "image/png".into(),
            width: 1,
            height: 1,
            bytes: 1,
        };
        let now = chrono::Utc::now();
        let record = facefix_shared::job::lifecycle::create(
            JobId::new_random(),
            Default::default(),
            input,
            now,
            Duration::from_secs(900),
        );
        store
            .schedule_purge(record.id, record.expires_at)
            .await
            .expect("schedule");
        store
            .create(&record, Duration::from_secs(1000))
            .await
            .expect("create");
        let client = redis::Client::open(redis_url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        let job_key = format!("{prefix}job:{}", record.id);
        let state: String = redis::cmd("HGET")
            .arg(&job_key)
            .arg("state")
            .query_async(&mut conn)
            .await
            .expect("HGET");
        assert_eq!(state, "queued");
        let ttl: i64 = redis::cmd("TTL")
            .arg(&job_key)
            .query_async(&mut conn)
            .await
            .expect("TTL");
        assert!((990..=1000).contains(&ttl), "record TTL {ttl}");
        let due: f64 = redis::cmd("ZSCORE")
            .arg(format!("{prefix}purge"))
            .arg(record.id.to_string())
            .query_async(&mut conn)
            .await
            .expect("ZSCORE");
        assert!(
            (due - record.expires_at.timestamp_millis() as f64 / 1000.0).abs() < 0.002,
            "purge score is unix seconds"
        );
        let queued: Option<f64> = redis::cmd("ZSCORE")
            .arg(format!("{prefix}queued"))
            .arg(record.id.to_string())
            .query_async(&mut conn)
            .await
            .expect("ZSCORE");
        assert!(queued.is_some(), "a queued job is in the queued index");
    };
    let outcome = AssertUnwindSafe(check).catch_unwind().await;
    delete_redis_keys(&prefix).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The API publishes from many requests at once over one confirm channel: every publish
/// must get its own confirm, and quickly (lapin pipelines them).
async fn concurrent_publishes_are_each_confirmed(h: Arc<Queues>) {
    let (queue, _) = h.open(3).await;
    let started = std::time::Instant::now();
    let publishes = (0..200).map(|_| {
        let queue = queue.clone();
        tokio::spawn(async move {
            let sent = std::time::Instant::now();
            queue
                .publish(
                    &JobMessage::new(JobId::new_random(), chrono::Utc::now()),
                    &TraceHeaders::new(),
                )
                .await?;
            Ok::<_, facefix_shared::ports::QueueError>(sent.elapsed())
        })
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for publish in futures_util::future::join_all(publishes).await {
        latencies.push(publish.expect("task").expect("publish"));
    }
    latencies.sort();
    eprintln!(
        "200 concurrent publishes in {:?}; latency p50 {:?}, max {:?}",
        started.elapsed(),
        latencies[100],
        latencies[199]
    );
    facefix_shared::contract::eventually("all 200 messages are ready", || {
        let queue = queue.clone();
        async move { queue.stats().await.expect("stats").ready == 200 }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_concurrent_publishes_are_each_confirmed() {
    if !services_enabled("amqp_concurrent_publishes_are_each_confirmed") {
        return;
    }
    let harness = Arc::new(Queues::default());
    let cleanup = harness.clone();
    guarded(
        harness,
        concurrent_publishes_are_each_confirmed,
        || async move { cleanup.cleanup().await },
    )
    .await;
}
