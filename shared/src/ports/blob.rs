use crate::job::JobId;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The object store is unreachable or failed; retry later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

/// The objects of a job. Keys are derived from the job id only: nothing user-supplied
/// (file names) ever reaches the object store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKey {
    Input(JobId),
    Result(JobId),
}

impl BlobKey {
    /// Every object a job can have, for purging.
    pub fn all_of(id: JobId) -> [BlobKey; 2] {
        [Self::Input(id), Self::Result(id)]
    }

    /// The object name, relative to the store's prefix: `jobs/{id}/input`.
    pub fn path(&self) -> String {
        match self {
            Self::Input(id) => format!("jobs/{id}/input"),
            Self::Result(id) => format!("jobs/{id}/result"),
        }
    }
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

/// Where uploads and results live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn put(&self, key: BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError>;

    /// `None` when the object does not exist.
    async fn get(&self, key: BlobKey) -> Result<Option<Blob>, BlobError>;

    /// Deletes the object; deleting a missing object succeeds.
    async fn delete(&self, key: BlobKey) -> Result<(), BlobError>;

    async fn exists(&self, key: BlobKey) -> Result<bool, BlobError>;

    /// Readiness: Ok when the store is reachable and the bucket exists.
    async fn check(&self) -> Result<(), BlobError>;
}
