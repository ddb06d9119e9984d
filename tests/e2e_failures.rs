//! When a dependency fails during an upload, the client gets a 503 with a code and nothing
//! is left behind: no object, no record, no purge entry, no message.

mod common;

use async_trait::async_trait;
use common::{Backend, Stack, StackOptions, read_testdata};
use facefix_shared::blob::DirBlobStore;
use facefix_shared::connect::Services;
use facefix_shared::job::{GuardedUpdate, JobEvent, JobId, JobMessage, JobRecord, Removal};
use facefix_shared::ports::*;
use facefix_shared::queue::MemoryQueue;
use facefix_shared::store::MemoryStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Which dependency refuses to work.
#[derive(Clone, Copy, PartialEq)]
enum Broken {
    QueuePublish,
    StoreCreate,
    BlobPut,
}

struct FlakyQueue(MemoryQueue);

#[async_trait]
impl JobQueue for FlakyQueue {
    async fn publish(&self, _: &JobMessage, _: &TraceHeaders) -> Result<(), QueueError> {
        Err(QueueError::Unavailable(
            "broker unreachable (injected)".into(),
        ))
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
        Err(QueueError::Unavailable(
            "broker unreachable (injected)".into(),
        ))
    }
    fn delivery_limit(&self) -> u32 {
        self.0.delivery_limit()
    }
}

struct FlakyStore(MemoryStore);

#[async_trait]
impl JobStore for FlakyStore {
    async fn schedule_purge(
        &self,
        id: JobId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.0.schedule_purge(id, at).await
    }
    async fn create(&self, _: &JobRecord, _: Duration) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "redis unreachable (injected)".into(),
        ))
    }
    async fn restore(&self, _: &JobRecord, _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable(
            "redis unreachable (injected)".into(),
        ))
    }
    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        self.0.get(id).await
    }
    async fn transition(&self, update: &GuardedUpdate) -> Result<Transition, StoreError> {
        self.0.transition(update).await
    }
    async fn publish(&self, event: &JobEvent) -> Result<(), StoreError> {
        self.0.publish(event).await
    }
    async fn subscribe(&self, id: JobId) -> Result<EventStream, StoreError> {
        self.0.subscribe(id).await
    }
    async fn delete_record(&self, removal: Removal) -> Result<(), StoreError> {
        self.0.delete_record(removal).await
    }
    async fn claim_due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        self.0.claim_due(now, lease, limit).await
    }
    async fn unschedule_purge(&self, id: JobId) -> Result<(), StoreError> {
        self.0.unschedule_purge(id).await
    }
    async fn is_scheduled(&self, id: JobId) -> Result<bool, StoreError> {
        self.0.is_scheduled(id).await
    }
    async fn oldest_purge_due(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        self.0.oldest_purge_due().await
    }
    async fn oldest_queued(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        self.0.oldest_queued().await
    }
    async fn check(&self) -> Result<(), StoreError> {
        self.0.check().await
    }
}

struct FlakyBlobs(DirBlobStore);

#[async_trait]
impl BlobStore for FlakyBlobs {
    async fn put(&self, _: &BlobKey, _: bytes::Bytes, _: &str) -> Result<(), BlobError> {
        Err(BlobError::Unavailable("s3 unreachable (injected)".into()))
    }
    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError> {
        self.0.get(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.0.delete(key).await
    }
    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        self.0.exists(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, BlobError> {
        self.0.list(prefix, start_after, limit).await
    }
    async fn check(&self) -> Result<(), BlobError> {
        self.0.check().await
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn upload_with_broken(broken: Broken, expected_code: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let queue = MemoryQueue::new(3);
    let store = MemoryStore::new();
    let blobs = DirBlobStore::open(dir.path()).await.expect("dir store");
    let services = Services {
        queue: if broken == Broken::QueuePublish {
            Arc::new(FlakyQueue(queue.clone()))
        } else {
            Arc::new(queue.clone())
        },
        store: if broken == Broken::StoreCreate {
            Arc::new(FlakyStore(store.clone()))
        } else {
            Arc::new(store.clone())
        },
        blobs: if broken == Broken::BlobPut {
            Arc::new(FlakyBlobs(blobs))
        } else {
            Arc::new(blobs)
        },
    };
    let mut options = StackOptions::new(Backend::Embedded);
    options.with_worker = false;
    let processor = Arc::new(facefix_worker::processors::PassThrough::default());
    let stack = Stack::start_with(options, processor, Some(services)).await;
    let response = stack
        .upload(read_testdata("images/astronaut.png"), "")
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], expected_code, "{body}");
    assert_eq!(
        files_under(dir.path()),
        Vec::<std::path::PathBuf>::new(),
        "an object was left behind"
    );
    assert_eq!(
        store.oldest_purge_due().await.expect("purge"),
        None,
        "a purge entry was left behind"
    );
    assert_eq!(
        store.oldest_queued().await.expect("queued"),
        None,
        "a record was left behind"
    );
    assert_eq!(
        queue.stats().await.expect("stats").ready,
        0,
        "a message was left behind"
    );
    let ready = stack
        .client
        .get(stack.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let expected_ready = if broken == Broken::QueuePublish {
        503
    } else {
        200
    };
    assert_eq!(ready.status(), expected_ready);
    stack.shutdown().await;
}

#[tokio::test]
async fn broker_failure_leaves_nothing_behind() {
    upload_with_broken(Broken::QueuePublish, "queue-unavailable").await;
}

#[tokio::test]
async fn store_failure_leaves_nothing_behind() {
    upload_with_broken(Broken::StoreCreate, "store-unavailable").await;
}

#[tokio::test]
async fn object_store_failure_leaves_nothing_behind() {
    upload_with_broken(Broken::BlobPut, "blob-unavailable").await;
}
