mod key;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

pub use key::{BlobKey, JOBS_PREFIX, JobObjects, KeyExpiry, legacy_listings, shard_prefixes};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The object store is unreachable or failed; retry later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

/// An object being read: its metadata and a body stream.
pub struct Blob {
    pub content_type: String,
    pub length: u64,
    pub body: BoxStream<'static, Result<Bytes, BlobError>>,
}

impl Blob {
    /// Reads the whole body into memory.
    pub async fn into_bytes(self) -> Result<Bytes, BlobError> {
        use futures_util::TryStreamExt;
        let mut out = Vec::with_capacity(usize::try_from(self.length).unwrap_or(0));
        let mut body = self.body;
        while let Some(chunk) = body.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}

/// An object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: BlobKey,
    pub last_modified: DateTime<Utc>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// In byte order of their names.
    pub objects: Vec<ListedObject>,
    /// More names follow the last one of this page.
    pub truncated: bool,
}

/// The most objects a listing page holds (S3's own limit).
pub const MAX_PAGE: usize = 1000;

/// Where uploads and results live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError>;

    /// `None` when the object does not exist.
    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError>;

    /// Deletes the object; deleting a missing object succeeds.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError>;

    /// Up to `limit` (at most [`MAX_PAGE`]) objects whose names start with `prefix`, in
    /// byte order of their names, starting after `start_after`. The retention sweeper finds
    /// what is due with it (see [`JobObjects`] for why names sort by expiry).
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, BlobError>;

    /// Readiness: Ok when the store is reachable and the bucket exists.
    async fn check(&self) -> Result<(), BlobError>;
}

/// Every object whose name starts with `prefix`, page after page.
pub async fn list_all(blobs: &dyn BlobStore, prefix: &str) -> Result<Vec<BlobKey>, BlobError> {
    let mut keys: Vec<BlobKey> = Vec::new();
    loop {
        let after = keys.last().map(BlobKey::as_str);
        let page = blobs.list(prefix, after, MAX_PAGE).await?;
        let more = page.truncated && !page.objects.is_empty();
        keys.extend(page.objects.into_iter().map(|object| object.key));
        if !more {
            return Ok(keys);
        }
    }
}

/// Reads `key`, or the job's object under its name from before expiry-ordered names
/// (`legacy`), for jobs stored by an older version during an upgrade.
pub async fn get_or_legacy(
    blobs: &dyn BlobStore,
    key: &BlobKey,
    legacy: &BlobKey,
) -> Result<Option<Blob>, BlobError> {
    match blobs.get(key).await? {
        Some(blob) => Ok(Some(blob)),
        None => blobs.get(legacy).await,
    }
}
