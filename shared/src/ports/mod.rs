//! The three ports of facefix. Each has a real adapter (RabbitMQ, Redis, S3) and an
//! embedded one (in-process, memory, local directory); both pass the same contract suite
//! (`crate::contract`, built with the `testing` feature).

mod blob;
mod queue;
mod store;

pub use blob::{Blob, BlobError, BlobKey, BlobStore};
pub use queue::{Acker, Consumer, Delivery, JobQueue, QueueError, QueueStats, TraceHeaders};
pub use store::{EventStream, JobStore, StoreError, Transition};
