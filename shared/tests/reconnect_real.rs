//! Reconnection after real outages: a RabbitMQ restart (`rabbitmqctl stop_app/start_app`),
//! forced connection closes (`rabbitmqctl close_all_connections`) and a killed Redis
//! subscription. A test binary of its own, because the outages would disturb the other
//! real-service tests (cargo runs test binaries one after another). Needs
//! `FACEFIX_TEST_SERVICES=1` and `rabbitmqctl` for the node `FACEFIX_TEST_RABBITMQ_NODE`
//! (default `facefix@localhost`, as `deploy/dev-services.sh` starts it).

mod common;

use common::*;
use facefix_shared::contract::within;
use facefix_shared::job::{JobEvent, JobId, JobMessage, Stage};
use facefix_shared::ports::{Consumer, Delivery, JobQueue, JobStore, TraceHeaders};
use facefix_shared::queue::AmqpQueue;
use facefix_shared::store::RedisStore;
use futures_util::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::process::Command;
use std::time::{Duration, Instant};

/// Upper bound of the whole restart scenario.
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);
/// How long the queue may take to work again after the broker is back.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// Drives `rabbitmqctl`; while the app is stopped, dropping it (test failure, panic,
/// timeout) starts the broker again, so a failed test never leaves it down.
struct Broker {
    node: String,
    stopped: bool,
}

impl Broker {
    fn new() -> Self {
        Self {
            node: env_or("FACEFIX_TEST_RABBITMQ_NODE", "facefix@localhost"),
            stopped: false,
        }
    }

    fn ctl(&self, args: &[&str]) {
        let status = Command::new("rabbitmqctl")
            .args(["-q", "-n", &self.node])
            .args(args)
            .status()
            .unwrap_or_else(|e| panic!("running rabbitmqctl {args:?}: {e}"));
        assert!(status.success(), "rabbitmqctl {args:?} failed: {status}");
    }

    fn stop_app(&mut self) {
        self.stopped = true;
        self.ctl(&["stop_app"]);
    }

    fn start_app(&mut self) {
        self.ctl(&["start_app"]);
        self.ctl(&["await_startup"]);
        self.stopped = false;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.stopped {
            eprintln!("restoring the broker after a failure");
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "-n", &self.node, "start_app"])
                .status();
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "-n", &self.node, "await_startup"])
                .status();
        }
    }
}

fn message() -> JobMessage {
    JobMessage::new(JobId::new_random(), chrono::Utc::now())
}

/// Publishes until it succeeds (each try bounded by the publish timeout); returns the
/// failed tries.
async fn publish_until_confirmed(queue: &AmqpQueue, message: &JobMessage) -> u32 {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match queue.publish(message, &TraceHeaders::new()).await {
            Ok(()) => return failures,
            Err(e) => {
                failures += 1;
                assert!(
                    started.elapsed() < RECOVERY_LIMIT,
                    "publishing never recovered: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn next_job(consumer: &mut Consumer, job: JobId) -> Delivery {
    let delivery = within(
        &format!("job {job} on the same consumer stream"),
        consumer.next(),
    )
    .await
    .expect("the consumer stream must not end on a broker restart");
    assert_eq!(delivery.message.job_id, job);
    delivery
}

async fn restart_scenario(broker: &mut Broker, queue: &AmqpQueue) {
    let mut consumer = queue.consume(4).await.expect("consume");
    let before = message();
    publish_until_confirmed(queue, &before).await;
    next_job(&mut consumer, before.job_id)
        .await
        .acker
        .ack()
        .await
        .expect("ack");

    // 1. The broker application stops and starts again.
    broker.stop_app();
    let during = queue.publish(&message(), &TraceHeaders::new()).await;
    assert!(
        during.is_err(),
        "a publish while the broker is down must fail, not hang or succeed"
    );
    queue
        .check()
        .await
        .expect_err("readiness fails while the broker is down");
    broker.start_app();
    let after_restart = message();
    let failures = publish_until_confirmed(queue, &after_restart).await;
    eprintln!("after start_app: published with {failures} failed tries");
    next_job(&mut consumer, after_restart.job_id)
        .await
        .acker
        .ack()
        .await
        .expect("ack");
    queue.check().await.expect("readiness is back");

    // 2. The broker closes every connection while a delivery is being worked on.
    let held = message();
    publish_until_confirmed(queue, &held).await;
    let in_flight = next_job(&mut consumer, held.job_id).await;
    broker.ctl(&["close_all_connections", "facefix reconnect test"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        in_flight.acker.ack().await.is_err(),
        "an ack on the closed channel fails (the broker has requeued the message)"
    );
    drop(in_flight);
    let redelivered = next_job(&mut consumer, held.job_id).await;
    assert!(
        redelivered.previous_deliveries >= 1,
        "the held message comes back as a redelivery"
    );
    redelivered.acker.ack().await.expect("ack the redelivery");
    let after_close = message();
    let failures = publish_until_confirmed(queue, &after_close).await;
    eprintln!("after close_all_connections: published with {failures} failed tries");
    next_job(&mut consumer, after_close.job_id)
        .await
        .acker
        .ack()
        .await
        .expect("ack");
    let stats = queue.stats().await.expect("stats after the outages");
    assert_eq!(stats.ready, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_publishing_and_consuming_survive_a_broker_restart() {
    if !services_enabled("amqp_publishing_and_consuming_survive_a_broker_restart") {
        return;
    }
    let prefix = format!("facefix-test-{}", unique());
    let queue = AmqpQueue::connect(&amqp_url(), &queue_args(&prefix, 3))
        .await
        .expect("connect");
    let mut broker = Broker::new();
    let scenario = tokio::time::timeout(SCENARIO_LIMIT, restart_scenario(&mut broker, &queue));
    let outcome = AssertUnwindSafe(scenario).catch_unwind().await;
    drop(broker); // restarts the broker if the scenario stopped it and failed
    let cleanup = tokio::time::timeout(Duration::from_secs(30), queue.delete_topology()).await;
    queue.close().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the restart scenario took longer than {SCENARIO_LIMIT:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    cleanup.expect("cleanup timed out").expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_event_subscription_comes_back_after_its_connection_is_killed() {
    if !services_enabled("redis_event_subscription_comes_back_after_its_connection_is_killed") {
        return;
    }
    let prefix = format!("facefix-test-{}:", unique());
    let scenario = async {
        let store = RedisStore::connect(&redis_url(), &store_args(&prefix))
            .await
            .expect("connect");
        let client = redis::Client::open(redis_url()).expect("url");
        let mut admin = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut admin)
            .await
            .expect("kill");
        assert!(
            killed >= 1,
            "the store's subscription connection was killed"
        );
        let job = JobId::new_random();
        let mut events = store.subscribe(job).await.expect("subscribe");
        let event = JobEvent::Stage {
            job_id: job,
            stage: Stage::Detect,
        };
        // Published repeatedly until the subscription is back: events during the gap are
        // lost by design.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            store.publish(&event).await.expect("publish");
            if let Ok(Some(got)) =
                tokio::time::timeout(Duration::from_millis(200), events.next()).await
            {
                assert_eq!(got, event);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the event subscription never came back"
            );
        }
    };
    let outcome = AssertUnwindSafe(scenario).catch_unwind().await;
    delete_redis_keys(&prefix).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
