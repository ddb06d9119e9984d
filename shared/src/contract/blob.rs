//! What every [`BlobStore`] adapter must do.

use crate::job::JobId;
use crate::ports::{BlobKey, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use std::sync::Arc;

/// Makes blob stores for the properties.
#[async_trait]
pub trait BlobHarness: Send + Sync {
    /// A fresh, empty store of its own (for a shared bucket: a unique prefix).
    async fn fresh(&self) -> Arc<dyn BlobStore>;
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
    let key = BlobKey::Input(JobId::new_random());
    let body = noise(12_345, 1);
    blobs
        .put(key, body.clone(), "image/png")
        .await
        .expect("put");
    assert!(blobs.exists(key).await.expect("exists"));
    let blob = blobs
        .get(key)
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(blob.content_type, "image/png");
    assert_eq!(blob.length, body.len() as u64);
    assert_eq!(blob.into_bytes().await.expect("read"), body);
    blobs.delete(key).await.expect("delete");
}

pub async fn large_objects_stream_in_chunks(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = BlobKey::Result(JobId::new_random());
    let body = noise(8 << 20, 2);
    blobs
        .put(key, body.clone(), "image/jpeg")
        .await
        .expect("put 8 MiB");
    let blob = blobs
        .get(key)
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
    blobs.delete(key).await.expect("delete");
}

pub async fn put_replaces_an_object(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = BlobKey::Result(JobId::new_random());
    blobs
        .put(key, noise(1000, 3), "image/png")
        .await
        .expect("put");
    let second = noise(500, 4);
    blobs
        .put(key, second.clone(), "image/webp")
        .await
        .expect("put again");
    let blob = blobs
        .get(key)
        .await
        .expect("get")
        .expect("the object exists");
    assert_eq!(blob.content_type, "image/webp");
    assert_eq!(blob.into_bytes().await.expect("read"), second);
    blobs.delete(key).await.expect("delete");
}

pub async fn delete_is_idempotent(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = BlobKey::Input(JobId::new_random());
    blobs
        .put(key, noise(100, 5), "image/jpeg")
        .await
        .expect("put");
    blobs.delete(key).await.expect("delete");
    assert!(!blobs.exists(key).await.expect("exists"));
    assert!(blobs.get(key).await.expect("get").is_none());
    blobs.delete(key).await.expect("delete again");
    blobs
        .delete(BlobKey::Result(JobId::new_random()))
        .await
        .expect("delete a never-stored object");
}

pub async fn missing_objects_are_none(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let key = BlobKey::Input(JobId::new_random());
    assert!(blobs.get(key).await.expect("get").is_none());
    assert!(!blobs.exists(key).await.expect("exists"));
}

pub async fn objects_of_different_jobs_are_separate(h: Arc<dyn BlobHarness>) {
    let blobs = h.fresh().await;
    let (a, b) = (JobId::new_random(), JobId::new_random());
    blobs
        .put(BlobKey::Input(a), noise(10, 6), "image/png")
        .await
        .expect("put a");
    blobs
        .put(BlobKey::Input(b), noise(20, 7), "image/png")
        .await
        .expect("put b");
    assert!(
        !blobs.exists(BlobKey::Result(a)).await.expect("exists"),
        "input and result are distinct"
    );
    blobs.delete(BlobKey::Input(a)).await.expect("delete a");
    assert!(
        blobs.exists(BlobKey::Input(b)).await.expect("exists"),
        "deleting a leaves b"
    );
    let b_body = blobs
        .get(BlobKey::Input(b))
        .await
        .expect("get")
        .expect("b exists");
    assert_eq!(b_body.into_bytes().await.expect("read"), noise(20, 7));
    blobs.delete(BlobKey::Input(b)).await.expect("delete b");
}

pub async fn check_succeeds(h: Arc<dyn BlobHarness>) {
    h.fresh().await.check().await.expect("check");
}
