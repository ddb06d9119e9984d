//! The upload use case without HTTP, on the embedded adapters: a submitted job is stored,
//! recorded, scheduled and queued; a failed publish takes everything back.

use async_trait::async_trait;
use bytes::Bytes;
use facefix_api::backlog::{BacklogArgs, BacklogMonitor};
use facefix_api::submit::{self, NewJob, SubmitError};
use facefix_shared::ErrorCode;
use facefix_shared::blob::DirBlobStore;
use facefix_shared::config::RetentionArgs;
use facefix_shared::connect::Services;
use facefix_shared::job::{ImageFormat, ImageInfo, JobMessage, JobParams, JobRecord, JobState};
use facefix_shared::ports::{
    Consumer, JobObjects, JobQueue, JobStore, QueueError, QueueStats, TraceHeaders,
};
use facefix_shared::queue::MemoryQueue;
use facefix_shared::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;

/// The embedded queue, except that the broker refuses every publish.
struct RefusingPublish(MemoryQueue);

#[async_trait]
impl JobQueue for RefusingPublish {
    async fn publish(&self, _: &JobMessage, _: &TraceHeaders) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("publish refused (injected)".into()))
    }
    async fn consume(&self, prefetch: u16) -> Result<Consumer, QueueError> {
        self.0.consume(prefetch).await
    }
    async fn consume_dead_letters(&self) -> Result<Consumer, QueueError> {
        self.0.consume_dead_letters().await
    }
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.0.stats().await
    }
    async fn check(&self) -> Result<(), QueueError> {
        self.0.check().await
    }
    fn delivery_limit(&self) -> u32 {
        self.0.delivery_limit()
    }
}

struct Fixture {
    services: Services,
    queue: MemoryQueue,
    store: MemoryStore,
    backlog: BacklogMonitor,
    retention: RetentionArgs,
    dir: tempfile::TempDir,
}

/// Files anywhere under `dir`: the objects of the directory blob store.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.path() {
            path if path.is_dir() => files_under(&path),
            _ => 1,
        })
        .sum()
}

/// Embedded adapters and a backlog of one slot, so a test can see whether the slot is held.
async fn fixture(refuse_publish: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let queue = MemoryQueue::new(3);
    let store = MemoryStore::new();
    let blobs = DirBlobStore::open(dir.path()).await.expect("dir store");
    let services = Services {
        queue: if refuse_publish {
            Arc::new(RefusingPublish(queue.clone()))
        } else {
            Arc::new(queue.clone())
        },
        store: Arc::new(store.clone()),
        blobs: Arc::new(blobs),
    };
    Fixture {
        services,
        queue,
        store,
        backlog: BacklogMonitor::new(BacklogArgs {
            max_backlog: 1,
            backlog_refresh: Duration::from_secs(60),
            backlog_retry_after: Duration::from_secs(7),
        }),
        retention: RetentionArgs {
            retention: Duration::from_secs(900),
            sweep_interval: Duration::from_secs(1),
            purge_lease: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(30),
        },
        dir,
    }
}

fn new_job() -> NewJob {
    let image = Bytes::from_static(b"pixels as uploaded");
    NewJob {
        params: JobParams::default(),
        input: ImageInfo {
            format: ImageFormat::Png,
            content_type: "image/png".into(),
            width: 2,
            height: 1,
            bytes: image.len() as u64,
        },
        image,
        owner: None,
    }
}

impl Fixture {
    /// Admits and submits [`new_job`], as the route does after reading the request.
    async fn submit(&self) -> Result<JobRecord, SubmitError> {
        let admission = submit::admit(&self.backlog).expect("admitted");
        submit::submit(&self.services, &self.retention, admission, new_job()).await
    }
}

#[tokio::test]
async fn a_submitted_job_is_stored_recorded_scheduled_and_queued() {
    let f = fixture(false).await;
    let record = f.submit().await.expect("submitted");

    assert_eq!(record.state, JobState::Queued);
    assert_eq!(
        record.expires_at - record.created_at,
        chrono::Duration::seconds(900)
    );
    assert_eq!(
        f.store.get(record.id).await.expect("get"),
        Some(record.clone())
    );
    let input = f
        .services
        .blobs
        .get(&JobObjects::of(&record).input())
        .await
        .expect("get input")
        .expect("the input is stored");
    assert_eq!(input.content_type, "image/png");
    assert_eq!(input.into_bytes().await.expect("bytes"), new_job().image);
    assert!(f.store.is_scheduled(record.id).await.expect("scheduled"));
    assert_eq!(f.queue.stats().await.expect("stats").ready, 1);
    let Err(refused) = submit::admit(&f.backlog) else {
        panic!("the created job keeps its backlog slot");
    };
    assert_eq!(refused.code(), ErrorCode::BacklogFull);
    assert!(
        matches!(refused, SubmitError::BacklogFull { retry_after } if retry_after == Duration::from_secs(7)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_refused_publish_rolls_everything_back() {
    let f = fixture(true).await;
    let error = f.submit().await.expect_err("the publish fails");

    assert!(matches!(error, SubmitError::Queue(_)), "{error:?}");
    assert_eq!(error.code(), ErrorCode::QueueUnavailable);
    assert_eq!(
        f.store.oldest_purge_due().await.expect("purge schedule"),
        None,
        "the purge entry is removed"
    );
    assert_eq!(
        f.store.oldest_queued().await.expect("queued index"),
        None,
        "the record is removed"
    );
    assert_eq!(files_under(f.dir.path()), 0, "the input is removed");
    assert_eq!(f.queue.stats().await.expect("stats").ready, 0);
    assert!(
        submit::admit(&f.backlog).is_ok(),
        "the backlog slot is given back"
    );
}
