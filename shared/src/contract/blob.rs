//! What every [`BlobStore`] adapter must do.

use crate::config::RetentionArgs;
use crate::job::JobId;
use crate::ports::blob::list_all;
use crate::ports::{BlobKey, BlobStore, JobObjects};
use crate::retention::{ReconcileReport, Reconciler};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Makes blob stores for the properties.
#[async_trait]
pub trait BlobHarness: Send + Sync {
    /// A fresh, empty store of its own (for a shared bucket: a unique prefix).
    async fn fresh(&self) -> Arc<dyn BlobStore>;
}

/// The objects of a new job that expires in an hour.
fn job() -> JobObjects {
    JobObjects::new(JobId::new_random(), Utc::now() + chrono::Duration::hours(1))
}

/// Deterministic bytes that do not compress or repeat (xorshift).
pub fn noise(len: usize, seed: u64) -> Bytes {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

pub async fn put_then_get_returns_bytes_and_content_type(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = job().input();
    let body = noise(12_345, 1);
    blobs
        .put(&key, body.clone(), "image/png")
        .await
        .expect("put");
    assert!(blobs.exists(&key).await.expect("exists"));
    let blob = blobs
        .get(&key)
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(blob.content_type, "image/png");
    assert_eq!(blob.length, body.len() as u64);
    assert_eq!(blob.into_bytes().await.expect("read"), body);
    blobs.delete(&key).await.expect("delete");
}

pub async fn large_objects_stream_in_chunks(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = job().result(1);
    let body = noise(8 << 20, 2);
    blobs
        .put(&key, body.clone(), "image/jpeg")
        .await
        .expect("put 8 MiB");
    let blob = blobs
        .get(&key)
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(blob.length, body.len() as u64);
    let chunks: Vec<Bytes> = blob.body.try_collect().await.expect("read the stream");
    assert!(
        chunks.len() > 1,
        "an 8 MiB body arrives in several chunks, not buffered whole"
    );
    let joined: Vec<u8> = chunks.concat();
    assert!(joined == body, "the streamed bytes equal the stored ones");
    blobs.delete(&key).await.expect("delete");
}

pub async fn put_replaces_an_object(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = job().result(1);
    blobs
        .put(&key, noise(1000, 3), "image/png")
        .await
        .expect("put");
    let second = noise(500, 4);
    blobs
        .put(&key, second.clone(), "image/webp")
        .await
        .expect("put again");
    let blob = blobs
        .get(&key)
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(blob.content_type, "image/webp");
    assert_eq!(blob.into_bytes().await.expect("read"), second);
    blobs.delete(&key).await.expect("delete");
}

pub async fn delete_is_idempotent(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = job().input();
    blobs
        .put(&key, noise(100, 5), "image/jpeg")
        .await
        .expect("put");
    blobs.delete(&key).await.expect("delete");
    assert!(!blobs.exists(&key).await.expect("exists"));
    assert!(blobs.get(&key).await.expect("get").is_none());
    blobs.delete(&key).await.expect("delete again");
    blobs
        .delete(&job().result(1))
        .await
        .expect("delete a never-stored object");
}

pub async fn missing_objects_are_none(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = job().input();
    assert!(blobs.get(&key).await.expect("get").is_none());
    assert!(!blobs.exists(&key).await.expect("exists"));
}

pub async fn objects_of_different_jobs_are_separate(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let (a, b) = (job(), job());
    blobs
        .put(&a.input(), noise(10, 6), "image/png")
        .await
        .expect("put a");
    blobs
        .put(&b.input(), noise(20, 7), "image/png")
        .await
        .expect("put b");
    assert!(
        !blobs.exists(&a.result(1)).await.expect("exists"),
        "input and result are distinct"
    );
    blobs.delete(&a.input()).await.expect("delete a");
    assert!(
        blobs.exists(&b.input()).await.expect("exists"),
        "deleting a leaves b"
    );
    let b_body = blobs.get(&b.input()).await.expect("get").expect("b exists");
    assert_eq!(b_body.into_bytes().await.expect("read"), noise(20, 7));
    blobs.delete(&b.input()).await.expect("delete b");
}

/// Listings return names in byte order, page by page from a start key, under a prefix.
pub async fn listing_pages_through_names_in_order(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let mut names: Vec<BlobKey> = Vec::new();
    for i in 0..5u64 {
        let objects = job();
        for key in [objects.input(), objects.result(1)] {
            blobs
                .put(&key, noise(16, i), "image/png")
                .await
                .expect("put");
            names.push(key);
        }
    }
    names.sort();
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = blobs
            .list("jobs/", after.as_deref(), 3)
            .await
            .expect("list");
        assert!(page.objects.len() <= 3, "a page holds at most the limit");
        listed.extend(page.objects.iter().map(|object| object.key.clone()));
        match page.objects.last() {
            Some(last) if page.truncated => after = Some(last.key.as_str().to_string()),
            _ => break,
        }
    }
    assert_eq!(listed, names, "every name once, in byte order");
    let from_middle = blobs
        .list("jobs/", Some(names[4].as_str()), 100)
        .await
        .expect("list");
    assert!(!from_middle.truncated);
    let rest: Vec<BlobKey> = from_middle.objects.into_iter().map(|o| o.key).collect();
    assert_eq!(rest, names[5..], "a listing starts after its start key");
    let recent = Utc::now() - chrono::Duration::minutes(10);
    let page = blobs.list("jobs/", None, 100).await.expect("list");
    assert!(
        page.objects
            .iter()
            .all(|object| object.last_modified > recent),
        "last-modified times are the writes' times"
    );
    let none = blobs.list("nothing-here/", None, 100).await.expect("list");
    assert!(none.objects.is_empty() && !none.truncated);
}

/// A job's folder lists its input and every attempt's result, and nothing of other jobs.
pub async fn a_job_folder_holds_its_objects_only(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let (mine, other) = (job(), job());
    let keys = [mine.input(), mine.result(1), mine.result(2)];
    for key in keys.iter().chain([&other.input(), &other.result(1)]) {
        blobs.put(key, noise(8, 9), "image/png").await.expect("put");
    }
    let mut expected = keys.to_vec();
    expected.sort();
    assert_eq!(
        list_all(blobs.as_ref(), &mine.folder())
            .await
            .expect("list"),
        expected
    );
    for key in &keys {
        blobs.delete(key).await.expect("delete");
    }
    assert!(
        list_all(blobs.as_ref(), &mine.folder())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(blobs.exists(&other.input()).await.expect("exists"));
}

fn retention_args(retention: Duration) -> RetentionArgs {
    RetentionArgs {
        retention,
        sweep_interval: Duration::from_secs(1),
        purge_lease: Duration::from_secs(30),
        reconcile_interval: Duration::from_secs(30),
    }
}

/// Reconciliation deletes every object past its expiry (in all 16 shards), and objects of
/// the old layout once older than the retention; it keeps everything else.
pub async fn reconciliation_deletes_due_objects_and_keeps_the_others(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let now = Utc::now();
    let at = |seconds: i64| -> DateTime<Utc> { now + chrono::Duration::seconds(seconds) };
    // Enough jobs that every shard holds some, due and not due interleaved in time.
    let mut due = Vec::new();
    let mut kept = Vec::new();
    for i in 0..48i64 {
        let expired = JobObjects::new(JobId::new_random(), at(-3 - i));
        due.extend([expired.input(), expired.result(1)]);
        let live = JobObjects::new(JobId::new_random(), at(3600 + i));
        kept.extend([live.input(), live.result(2)]);
    }
    let legacy_id = JobId::new_random();
    let legacy = [
        BlobKey::legacy_input(legacy_id),
        BlobKey::legacy_result(legacy_id),
    ];
    // Not job objects: never deleted.
    let foreign = [
        BlobKey::listed("jobs/a/readme"),
        BlobKey::listed("jobs/0/20000101T000000Z/not-a-job/input"),
        BlobKey::listed("backups/old"),
    ];
    for key in due.iter().chain(&kept).chain(&legacy).chain(&foreign) {
        blobs
            .put(key, noise(4, 11), "image/png")
            .await
            .expect("put");
    }

    let hour = Reconciler::new(blobs.clone(), &retention_args(Duration::from_secs(3600)));
    let report = hour.reconcile_once(now).await;
    assert_eq!(
        report,
        ReconcileReport {
            deleted: due.len(),
            deleted_legacy: 0,
            errors: 0
        }
    );
    for key in &due {
        assert!(!blobs.exists(key).await.expect("exists"), "{key} is due");
    }
    for key in kept.iter().chain(&legacy).chain(&foreign) {
        assert!(blobs.exists(key).await.expect("exists"), "{key} was kept");
    }
    assert_eq!(
        hour.reconcile_once(now).await,
        ReconcileReport::default(),
        "a second pass finds nothing"
    );

    // Old-layout objects carry no expiry: they go once older than the retention.
    let none = Reconciler::new(blobs.clone(), &retention_args(Duration::ZERO));
    let report = none
        .reconcile_once(Utc::now() + chrono::Duration::seconds(1))
        .await;
    assert_eq!(report.deleted_legacy, legacy.len());
    assert_eq!(report.errors, 0);
    for key in &legacy {
        assert!(!blobs.exists(key).await.expect("exists"), "{key} is old");
    }
    for key in kept.iter().chain(&foreign) {
        assert!(blobs.exists(key).await.expect("exists"), "{key} was kept");
        blobs.delete(key).await.expect("clean up");
    }
}

pub async fn check_succeeds(h: Arc<dyn BlobHarness>) {
    h.fresh().await.check().await.expect("check");
}
