//! The contract suites against the embedded adapters (in-process queue, memory store,
//! local directory). Needs nothing.

use async_trait::async_trait;
use facefix_shared::blob::DirBlobStore;
use facefix_shared::contract::{BlobHarness, QueueHarness, StoreHarness, StorePair};
use facefix_shared::ports::{BlobStore, JobQueue};
use facefix_shared::queue::MemoryQueue;
use facefix_shared::store::MemoryStore;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Keeps the queues it made, to read their held-delivery counts.
#[derive(Default)]
struct Queues {
    made: Mutex<Vec<MemoryQueue>>,
}

impl Queues {
    fn made(&self) -> std::sync::MutexGuard<'_, Vec<MemoryQueue>> {
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl QueueHarness for Queues {
    async fn fresh(&self, delivery_limit: u32) -> Arc<dyn JobQueue> {
        let queue = MemoryQueue::new(delivery_limit);
        self.made().push(queue.clone());
        Arc::new(queue)
    }

    fn deliveries_held(&self) -> u64 {
        self.made().iter().map(MemoryQueue::deliveries_held).sum()
    }
}

struct Stores;

#[async_trait]
impl StoreHarness for Stores {
    async fn fresh(&self) -> StorePair {
        let store = MemoryStore::new();
        StorePair {
            a: Arc::new(store.clone()),
            b: Arc::new(store),
        }
    }
}

/// Each fresh store gets its own temporary directory, removed with the harness.
#[derive(Default)]
struct Dirs {
    dirs: Mutex<Vec<tempfile::TempDir>>,
}

#[async_trait]
impl BlobHarness for Dirs {
    async fn fresh(&self) -> Arc<dyn BlobStore> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DirBlobStore::open(dir.path())
            .await
            .expect("open dir store");
        self.dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir);
        Arc::new(store)
    }
}

async fn run_queue<F, Fut>(_name: &str, property: F)
where
    F: FnOnce(Arc<dyn QueueHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    property(Arc::new(Queues::default())).await;
}

async fn run_store<F, Fut>(_name: &str, property: F)
where
    F: FnOnce(Arc<dyn StoreHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    property(Arc::new(Stores)).await;
}

async fn run_blob<F, Fut>(_name: &str, property: F)
where
    F: FnOnce(Arc<dyn BlobHarness>) -> Fut,
    Fut: Future<Output = ()>,
{
    property(Arc::new(Dirs::default())).await;
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
