use crate::job::{GuardedUpdate, JobEvent, JobId, JobRecord, JobState, Removal};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis is unreachable or timed out; retry later.
    #[error("job store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read (schema drift, corruption).
    #[error("job store data error: {0}")]
    Data(String),
}

/// The outcome of a guarded state change.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Written; the record is now the one given.
    Applied,
    /// Not written: the stored job does not pass the update's guard.
    Rejected { current: JobState },
    /// Not written: the job does not exist (purged, expired, or never created).
    Missing,
}

/// Events of one job, as they happen.
pub type EventStream = BoxStream<'static, JobEvent>;

/// Job records, the purge schedule and per-job events.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Puts `id` on the purge schedule at `expires_at`. Called *before* anything of the
    /// job is stored, so a crash at any later point leaves nothing the sweeper misses.
    async fn schedule_purge(&self, id: JobId, expires_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Writes a new record (with a TTL of `record_ttl` as a backstop) and publishes its
    /// state. The record comes from `lifecycle::create`.
    async fn create(&self, record: &JobRecord, record_ttl: Duration) -> Result<(), StoreError>;

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError>;

    /// Replaces the record with `update.next()` only if the stored job passes
    /// `update.guard()`, atomically, then publishes the new state. Updates come from
    /// [`crate::job::lifecycle`].
    async fn transition(&self, update: &GuardedUpdate) -> Result<Transition, StoreError>;

    /// Publishes a progress event (no write).
    async fn publish(&self, event: &JobEvent) -> Result<(), StoreError>;

    /// Events of one job from now on. Subscribe before reading the record, so nothing
    /// between the read and the subscription is missed.
    async fn subscribe(&self, id: JobId) -> Result<EventStream, StoreError>;

    /// Deletes the record and publishes `removal.event()`. Idempotent. The purge entry is
    /// left in place: the sweeper removes it once the objects are known to be gone.
    async fn delete_record(&self, removal: Removal) -> Result<(), StoreError>;

    /// Atomically takes up to `limit` ids due at `now` from the purge schedule, pushing each
    /// one's due time to `now + lease` so other sweepers skip it while this one works; if
    /// this sweeper dies, the id comes due again when the lease runs out.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError>;

    /// Removes `id` from the purge schedule: call only once its objects and record are gone.
    async fn unschedule_purge(&self, id: JobId) -> Result<(), StoreError>;

    /// Whether `id` is on the purge schedule (for tests and diagnostics).
    async fn is_scheduled(&self, id: JobId) -> Result<bool, StoreError>;

    /// The due time of the oldest entry of the purge schedule, if any.
    async fn oldest_purge_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Creation time of the oldest job still queued, if any.
    async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Readiness: Ok when the store is reachable.
    async fn check(&self) -> Result<(), StoreError>;
}
