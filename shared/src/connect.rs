//! Builds the three ports from configuration: a URL selects the real adapter, no URL the
//! embedded one.

use crate::blob::{DirBlobStore, S3BlobStore};
use crate::config::{BlobArgs, QueueArgs, StoreArgs};
use crate::key_limits::{KeyLimits, MemoryKeyLimits, RedisKeyLimits};
use crate::ports::{BlobStore, JobQueue, JobStore};
use crate::queue::{AmqpQueue, MemoryQueue};
use crate::store::{MemoryStore, RedisStore};
// Re-exported: the roles log which adapters they use. It lives apart because the adapters
// need it too, and they must not depend on the module that builds them.
pub use crate::redact::redact_url;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("job queue: {0}")]
    Queue(String),
    #[error("job store: {0}")]
    Store(String),
    #[error("object store: {0}")]
    Blob(String),
}

/// The three ports a role works with.
#[derive(Clone)]
pub struct Services {
    pub queue: Arc<dyn JobQueue>,
    pub store: Arc<dyn JobStore>,
    pub blobs: Arc<dyn BlobStore>,
}

impl Services {
    /// True when no service URL is configured: everything is in-process.
    pub fn all_embedded(queue: &QueueArgs, store: &StoreArgs, blob: &BlobArgs) -> bool {
        queue.queue_url.is_none() && store.store_url.is_none() && blob.blob_url.is_none()
    }

    /// Connects every port (each its real adapter when its URL is set).
    pub async fn connect(
        queue: &QueueArgs,
        store: &StoreArgs,
        blob: &BlobArgs,
    ) -> Result<Self, ConnectError> {
        Ok(Self {
            queue: connect_queue(queue).await?,
            store: connect_store(store).await?,
            blobs: connect_blobs(blob).await?,
        })
    }
}

pub async fn connect_queue(args: &QueueArgs) -> Result<Arc<dyn JobQueue>, ConnectError> {
    match &args.queue_url {
        None => Ok(Arc::new(MemoryQueue::new(args.queue_delivery_limit))),
        Some(url) if url.starts_with("amqp://") || url.starts_with("amqps://") => {
            let queue = AmqpQueue::connect(url, args)
                .await
                .map_err(|e| ConnectError::Queue(e.to_string()))?;
            Ok(Arc::new(queue))
        }
        Some(url) => Err(ConnectError::Queue(format!(
            "unsupported queue URL {} (expected amqp:// or amqps://)",
            redact_url(url)
        ))),
    }
}

pub async fn connect_store(args: &StoreArgs) -> Result<Arc<dyn JobStore>, ConnectError> {
    match &args.store_url {
        None => Ok(Arc::new(MemoryStore::new())),
        Some(url)
            if url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://") =>
        {
            let store = RedisStore::connect(url, args)
                .await
                .map_err(|e| ConnectError::Store(e.to_string()))?;
            Ok(Arc::new(store))
        }
        Some(url) => Err(ConnectError::Store(format!(
            "unsupported store URL {} (expected redis://)",
            redact_url(url)
        ))),
    }
}

/// The API keys' shared limits: in Redis beside the job store when it is there, so every
/// API replica counts against one budget per key; in memory otherwise.
pub fn connect_key_limits(args: &StoreArgs) -> Result<Arc<dyn KeyLimits>, ConnectError> {
    match &args.store_url {
        None => Ok(Arc::new(MemoryKeyLimits::new())),
        Some(url) => {
            let limits = RedisKeyLimits::connect(url, &args.store_prefix)
                .map_err(|e| ConnectError::Store(e.to_string()))?;
            Ok(Arc::new(limits))
        }
    }
}

pub async fn connect_blobs(args: &BlobArgs) -> Result<Arc<dyn BlobStore>, ConnectError> {
    match &args.blob_url {
        None => Ok(Arc::new(
            DirBlobStore::open(&args.data_dir)
                .await
                .map_err(|e| ConnectError::Blob(e.to_string()))?,
        )),
        Some(url) if url.starts_with("s3://") => {
            let blobs = S3BlobStore::connect(args)
                .await
                .map_err(|e| ConnectError::Blob(e.to_string()))?;
            Ok(Arc::new(blobs))
        }
        Some(url) => Err(ConnectError::Blob(format!(
            "unsupported blob URL {url} (expected s3://bucket[/prefix])"
        ))),
    }
}
