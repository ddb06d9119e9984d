//! What every [`JobStore`] adapter must do.

use super::{QUIET, eventually, within};
use crate::job::lifecycle::{self, GuardedUpdate, JobOutput};
use crate::job::{ImageFormat, ImageInfo, JobEvent, JobId, JobParams, JobRecord, JobState, Stage};
use crate::ports::{JobStore, Transition};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Two handles on one fresh store: for a service, two connections (two processes); for
/// the embedded store, two clones.
pub struct StorePair {
    pub a: Arc<dyn JobStore>,
    pub b: Arc<dyn JobStore>,
}

/// Makes job stores for the properties.
#[async_trait]
pub trait StoreHarness: Send + Sync {
    /// A fresh, empty store of its own (for a shared server: a unique key prefix).
    async fn fresh(&self) -> StorePair;
}

const LONG_TTL: Duration = Duration::from_secs(600);

/// Now, to the millisecond: adapters may keep times at that precision.
fn now_ms() -> DateTime<Utc> {
    ms(Utc::now().timestamp_millis())
}

fn ms(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

fn record_at(created_at: DateTime<Utc>) -> JobRecord {
    let input = ImageInfo {
        format: ImageFormat::Png,
        content_type: "image/png".into(),
        width: 64,
        height: 48,
        bytes: 1234,
    };
    lifecycle::create(
        JobId::new_random(),
        JobParams::default(),
        input,
        created_at,
        Duration::from_secs(900),
    )
}

fn record() -> JobRecord {
    record_at(now_ms())
}

fn start(record: &JobRecord) -> GuardedUpdate {
    lifecycle::start(record.clone(), "contract-worker", now_ms())
}

fn succeed(running: &JobRecord) -> GuardedUpdate {
    let output = JobOutput {
        image: running.input.clone(),
        faces_found: 1,
        faces_restored: 1,
        timings: Default::default(),
        notes: Vec::new(),
    };
    lifecycle::succeed(running.clone(), output, now_ms())
}

fn close(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_milliseconds().abs() <= 1
}

pub async fn create_then_get_returns_the_record(h: Arc<dyn StoreHarness>) {
    let StorePair { a, b } = h.fresh().await;
    let record = record();
    assert_eq!(a.get(record.id).await.expect("get"), None);
    a.create(&record, LONG_TTL).await.expect("create");
    assert_eq!(a.get(record.id).await.expect("get"), Some(record.clone()));
    assert_eq!(
        b.get(record.id).await.expect("get from b"),
        Some(record),
        "visible to other handles"
    );
    a.check().await.expect("check");
}

pub async fn record_ttl_is_applied(h: Arc<dyn StoreHarness>) {
    let StorePair { a, .. } = h.fresh().await;
    let record = record();
    a.create(&record, Duration::from_millis(1200))
        .await
        .expect("create");
    assert!(a.get(record.id).await.expect("get").is_some());
    let store = a.clone();
    eventually("the record expires", || {
        let store = store.clone();
        async move { store.get(record.id).await.expect("get").is_none() }
    })
    .await;
}

pub async fn transition_is_guarded(h: Arc<dyn StoreHarness>) {
    let StorePair { a, b } = h.fresh().await;
    let record = record();
    a.create(&record, LONG_TTL).await.expect("create");
    let processing = start(&record);
    assert_eq!(
        a.transition(&processing).await.expect("start"),
        Transition::Applied
    );
    assert_eq!(
        b.get(record.id).await.expect("get"),
        Some(processing.next().clone())
    );

    // A duplicate delivery finishing late cannot move a finished job back.
    let succeeded = succeed(processing.next());
    assert_eq!(
        a.transition(&succeeded).await.expect("finish"),
        Transition::Applied
    );
    assert_eq!(
        b.transition(&processing).await.expect("late start"),
        Transition::Rejected {
            current: JobState::Succeeded
        }
    );
    assert_eq!(
        a.get(record.id).await.expect("get"),
        Some(succeeded.into_next())
    );

    let unknown = record_at(now_ms());
    assert_eq!(
        a.transition(&start(&unknown)).await.expect("unknown"),
        Transition::Missing
    );
    assert_eq!(
        a.get(unknown.id).await.expect("get"),
        None,
        "a missing job is not created"
    );
}

pub async fn transition_keeps_the_record_ttl(h: Arc<dyn StoreHarness>) {
    let StorePair { a, .. } = h.fresh().await;
    let record = record();
    a.create(&record, Duration::from_millis(1500))
        .await
        .expect("create");
    assert_eq!(
        a.transition(&start(&record)).await.expect("start"),
        Transition::Applied
    );
    let store = a.clone();
    eventually("the transitioned record still expires", || {
        let store = store.clone();
        async move { store.get(record.id).await.expect("get").is_none() }
    })
    .await;
}

pub async fn events_arrive_in_order_and_the_stream_ends_after_a_final_one(
    h: Arc<dyn StoreHarness>,
) {
    let StorePair { a, b } = h.fresh().await;
    let record = record();
    // Subscribed on one handle, written through the other: events cross processes.
    let mut events = b.subscribe(record.id).await.expect("subscribe");
    let mut other = b
        .subscribe(JobId::new_random())
        .await
        .expect("subscribe to another job");
    a.create(&record, LONG_TTL).await.expect("create");
    a.publish(&JobEvent::Stage {
        job_id: record.id,
        stage: Stage::Detect,
    })
    .await
    .expect("publish");
    let processing = start(&record);
    a.transition(&processing).await.expect("start");
    a.publish(&JobEvent::Stage {
        job_id: record.id,
        stage: Stage::Restore,
    })
    .await
    .expect("publish");
    let succeeded = succeed(processing.next());
    a.transition(&succeeded).await.expect("finish");

    let expected = vec![
        JobEvent::State {
            record: Box::new(record.clone()),
        },
        JobEvent::Stage {
            job_id: record.id,
            stage: Stage::Detect,
        },
        processing.event(),
        JobEvent::Stage {
            job_id: record.id,
            stage: Stage::Restore,
        },
        succeeded.event(),
    ];
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        got.push(
            within("the next event", events.next())
                .await
                .expect("an event, not the end"),
        );
    }
    assert_eq!(got, expected);
    assert_eq!(
        within("the end of the stream", events.next()).await,
        None,
        "the stream ends after a final state"
    );
    assert!(
        tokio::time::timeout(QUIET, other.next()).await.is_err(),
        "a subscriber gets only its own job's events"
    );
}

pub async fn delete_record_is_idempotent_and_keeps_the_purge_entry(h: Arc<dyn StoreHarness>) {
    let StorePair { a, b } = h.fresh().await;
    let record = record();
    a.schedule_purge(record.id, record.expires_at)
        .await
        .expect("schedule");
    // Subscribed before the create: an event published just before a subscription may
    // still reach it across processes, so only a subscription made earlier is exact.
    let mut events = b.subscribe(record.id).await.expect("subscribe");
    a.create(&record, LONG_TTL).await.expect("create");
    a.delete_record(lifecycle::delete(record.id))
        .await
        .expect("delete");
    assert_eq!(a.get(record.id).await.expect("get"), None);
    assert!(
        a.is_scheduled(record.id).await.expect("is_scheduled"),
        "the purge entry stays"
    );
    assert_eq!(
        within("the created event", events.next()).await,
        Some(JobEvent::State {
            record: Box::new(record.clone())
        })
    );
    assert_eq!(
        within("the gone event", events.next()).await,
        Some(JobEvent::Gone {
            job_id: record.id,
            state: JobState::Deleted
        })
    );
    assert_eq!(within("the end of the stream", events.next()).await, None);
    a.delete_record(lifecycle::expire(record.id))
        .await
        .expect("delete again");
    a.delete_record(lifecycle::expire(JobId::new_random()))
        .await
        .expect("delete a never-created job");
    assert_eq!(
        a.oldest_queued().await.expect("oldest_queued"),
        None,
        "a deleted job is not queued"
    );
}

pub async fn concurrent_claimers_never_get_the_same_id(h: Arc<dyn StoreHarness>) {
    let StorePair { a, b } = h.fresh().await;
    let now = now_ms();
    let mut scheduled = HashSet::new();
    for i in 0..60 {
        let id = JobId::new_random();
        a.schedule_purge(id, now - chrono::Duration::seconds(60 - i))
            .await
            .expect("schedule");
        scheduled.insert(id);
    }
    let claim_all = |store: Arc<dyn JobStore>| async move {
        let mut mine = Vec::new();
        loop {
            let batch = store
                .claim_due(now, Duration::from_secs(60), 7)
                .await
                .expect("claim");
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch);
        }
    };
    let (from_a, from_b) = tokio::join!(
        tokio::spawn(claim_all(a.clone())),
        tokio::spawn(claim_all(b.clone()))
    );
    let (from_a, from_b) = (from_a.expect("claimer a"), from_b.expect("claimer b"));
    let mut seen = HashSet::new();
    for id in from_a.iter().chain(&from_b) {
        assert!(
            seen.insert(*id),
            "job {id} was claimed twice within one lease"
        );
    }
    assert_eq!(seen, scheduled, "every due id was claimed");
    assert!(
        a.claim_due(now, Duration::from_secs(60), 100)
            .await
            .expect("claim")
            .is_empty()
    );
    for id in &scheduled {
        assert!(
            a.is_scheduled(*id).await.expect("is_scheduled"),
            "a claim keeps the id scheduled"
        );
    }
}

pub async fn an_expired_lease_makes_the_id_claimable_again(h: Arc<dyn StoreHarness>) {
    let StorePair { a, b } = h.fresh().await;
    let now = now_ms();
    let due = JobId::new_random();
    let later = JobId::new_random();
    a.schedule_purge(due, now - chrono::Duration::seconds(1))
        .await
        .expect("schedule");
    a.schedule_purge(later, now + chrono::Duration::seconds(3600))
        .await
        .expect("schedule");
    let lease = Duration::from_secs(30);
    assert_eq!(
        a.claim_due(now, lease, 10).await.expect("claim"),
        vec![due],
        "only due ids are claimed"
    );
    assert!(
        b.claim_due(now, lease, 10).await.expect("claim").is_empty(),
        "leased ids are skipped"
    );
    let after_lease = now + chrono::Duration::seconds(31);
    assert_eq!(
        b.claim_due(after_lease, lease, 10).await.expect("claim"),
        vec![due],
        "claimable after the lease"
    );
    let due_again = a.oldest_purge_due().await.expect("oldest").expect("some");
    assert!(
        close(due_again, after_lease + chrono::Duration::seconds(30)),
        "the new lease runs from the claim"
    );
}

pub async fn unschedule_removes_the_purge_entry(h: Arc<dyn StoreHarness>) {
    let StorePair { a, .. } = h.fresh().await;
    let id = JobId::new_random();
    let now = now_ms();
    a.schedule_purge(id, now).await.expect("schedule");
    assert!(a.is_scheduled(id).await.expect("is_scheduled"));
    a.unschedule_purge(id).await.expect("unschedule");
    assert!(!a.is_scheduled(id).await.expect("is_scheduled"));
    assert!(
        a.claim_due(
            now + chrono::Duration::seconds(1),
            Duration::from_secs(30),
            10
        )
        .await
        .expect("claim")
        .is_empty()
    );
    a.unschedule_purge(id).await.expect("unschedule again");
}

pub async fn oldest_queued_follows_the_queued_jobs(h: Arc<dyn StoreHarness>) {
    let StorePair { a, .. } = h.fresh().await;
    assert_eq!(a.oldest_queued().await.expect("oldest"), None);
    let t1 = ms(now_ms().timestamp_millis() - 5000);
    let t2 = ms(t1.timestamp_millis() + 1234);
    let (first, second) = (record_at(t1), record_at(t2));
    a.create(&second, LONG_TTL).await.expect("create");
    a.create(&first, LONG_TTL).await.expect("create");
    let oldest = a.oldest_queued().await.expect("oldest").expect("some");
    assert!(close(oldest, t1), "oldest {oldest} is the first job's {t1}");
    a.transition(&start(&first)).await.expect("start");
    let oldest = a.oldest_queued().await.expect("oldest").expect("some");
    assert!(close(oldest, t2), "a started job is no longer queued");
    a.delete_record(lifecycle::delete(second.id))
        .await
        .expect("delete");
    assert_eq!(a.oldest_queued().await.expect("oldest"), None);
}

pub async fn oldest_purge_due_follows_the_schedule(h: Arc<dyn StoreHarness>) {
    let StorePair { a, .. } = h.fresh().await;
    assert_eq!(a.oldest_purge_due().await.expect("oldest"), None);
    let t1 = ms(now_ms().timestamp_millis() + 60_000);
    let t2 = ms(t1.timestamp_millis() + 60_000);
    let (early, late) = (JobId::new_random(), JobId::new_random());
    a.schedule_purge(late, t2).await.expect("schedule");
    a.schedule_purge(early, t1).await.expect("schedule");
    let oldest = a.oldest_purge_due().await.expect("oldest").expect("some");
    assert!(close(oldest, t1), "oldest due {oldest} is {t1}");
    a.unschedule_purge(early).await.expect("unschedule");
    let oldest = a.oldest_purge_due().await.expect("oldest").expect("some");
    assert!(close(oldest, t2), "oldest due {oldest} is {t2}");
    a.unschedule_purge(late).await.expect("unschedule");
    assert_eq!(a.oldest_purge_due().await.expect("oldest"), None);
}
