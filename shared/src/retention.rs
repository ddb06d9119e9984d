//! The retention guarantee: every job's objects and record are destroyed at `expires_at`.
//!
//! The sweeper claims due ids from the purge schedule atomically (several sweepers may
//! run), deletes the objects, then the record, and only then removes the id from the
//! schedule. A crash at any step leaves the id scheduled, so another sweep finishes it.
//!
//! The schedule lives in the job store, which may lose it (a Redis restart without
//! persistence, a flush, an eviction). The object store is the source of truth: object
//! names carry their expiry, and the [`Reconciler`] that runs beside every sweeper deletes
//! whatever is past it, whatever the job store says.

mod reconcile;

pub use reconcile::{ReconcileReport, Reconciler};

use crate::config::RetentionArgs;
use crate::job::{JobId, PurgeReason, Removal, lifecycle};
use crate::metrics::{export_at_zero, metrics};
use crate::ports::blob::list_all;
use crate::ports::{BlobError, BlobKey, BlobStore, JobObjects, JobStore, StoreError};
use chrono::Utc;
use futures_util::future::try_join_all;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How many due jobs one sweep claims at most.
const CLAIM_BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// The `step` labels of `facefix_purge_errors_total`.
const PURGE_STEP_OBJECTS: &str = "objects";
const PURGE_STEP_RECORD: &str = "record";

/// The purge counters' series, exported at zero before the first purge.
fn export_purge_series() {
    let metrics = metrics();
    export_at_zero(
        &metrics.purge_errors_total,
        &[PURGE_STEP_OBJECTS, PURGE_STEP_RECORD],
    );
    export_at_zero(
        &metrics.purges_total,
        &[PurgeReason::Deleted.as_str(), PurgeReason::Expired.as_str()],
    );
}

/// Deletes every object of the job, then its record (which publishes `deleted` or
/// `expired`). Idempotent. The purge schedule is not touched: see [`Sweeper`].
///
/// `objects` locates the job's objects: from its record, or from the record the caller was
/// about to write. Without it (the record is gone) only the job's objects under the names
/// of older versions are deleted here; the [`Reconciler`] deletes the others once due.
pub async fn purge_job(
    store: &dyn JobStore,
    blobs: &dyn BlobStore,
    removal: Removal,
    objects: Option<JobObjects>,
) -> Result<(), PurgeError> {
    delete_objects(blobs, removal.id, objects)
        .await
        .inspect_err(|_| {
            metrics()
                .purge_errors_total
                .with_label_values(&[PURGE_STEP_OBJECTS])
                .inc();
        })?;
    store.delete_record(removal).await.inspect_err(|_| {
        metrics()
            .purge_errors_total
            .with_label_values(&[PURGE_STEP_RECORD])
            .inc();
    })?;
    metrics()
        .purges_total
        .with_label_values(&[removal.reason.as_str()])
        .inc();
    Ok(())
}

/// Deletes whatever is in the job's folder (its input and the result of every attempt,
/// including attempts that lost the job), and the job's objects under the names of older
/// versions (upgrade path), all at once.
async fn delete_objects(
    blobs: &dyn BlobStore,
    id: JobId,
    objects: Option<JobObjects>,
) -> Result<(), BlobError> {
    let mut keys = match objects {
        Some(objects) => list_all(blobs, &objects.folder()).await?,
        None => Vec::new(),
    };
    keys.extend([BlobKey::legacy_input(id), BlobKey::legacy_result(id)]);
    try_join_all(keys.iter().map(|key| blobs.delete(key))).await?;
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub purged: usize,
    pub failed: usize,
}

/// Purges due jobs, repeatedly.
#[derive(Clone)]
pub struct Sweeper {
    store: Arc<dyn JobStore>,
    blobs: Arc<dyn BlobStore>,
    args: RetentionArgs,
}

impl Sweeper {
    pub fn new(store: Arc<dyn JobStore>, blobs: Arc<dyn BlobStore>, args: RetentionArgs) -> Self {
        export_purge_series();
        Self { store, blobs, args }
    }

    /// Claims and purges what is due now.
    pub async fn sweep_once(&self) -> Result<SweepReport, StoreError> {
        let now = Utc::now();
        let lag_read = self.update_lag_metric(now).await;
        let claimed = self
            .store
            .claim_due(now, self.args.purge_lease, CLAIM_BATCH)
            .await;
        if lag_read.is_err() || claimed.is_err() {
            // Once per sweep, whichever read of the schedule failed.
            metrics().sweeper_schedule_errors_total.inc();
        }
        let due = claimed?;
        let mut report = SweepReport::default();
        for id in due {
            match self.purge_due_job(id).await {
                Ok(()) => report.purged += 1,
                Err(error) => {
                    // The claim's lease runs out and the id comes due again: retried.
                    tracing::warn!(job_id = %id, %error, "purge failed; will retry after the lease");
                    report.failed += 1;
                }
            }
        }
        if lag_read.is_ok() && report.failed == 0 {
            mark_success();
        }
        Ok(report)
    }

    async fn purge_due_job(&self, id: JobId) -> Result<(), PurgeError> {
        let objects = self.store.get(id).await?.as_ref().map(JobObjects::of);
        purge_job(
            self.store.as_ref(),
            self.blobs.as_ref(),
            lifecycle::expire(id),
            objects,
        )
        .await?;
        // A worker still processing the job may write its result after this purge. It
        // deletes that result when it finds the record gone; should it die first, the
        // result's name says it is past due and the reconciliation pass deletes it.
        self.store.unschedule_purge(id).await?;
        tracing::info!(job_id = %id, "job expired and purged");
        Ok(())
    }

    /// Sets the purge lag from the schedule. When the schedule cannot be read the gauge
    /// keeps its last value, so the failure is reported instead (logged, and counted by
    /// the caller): the alerts on the error counter and on the last success see what a
    /// frozen gauge hides.
    async fn update_lag_metric(&self, now: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        let oldest = self.store.oldest_purge_due().await.inspect_err(|error| {
            tracing::warn!(%error, "cannot read the purge schedule for the purge lag");
        })?;
        let lag = oldest
            .map(|due| (now - due).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        metrics().purge_lag_seconds.set(lag);
        Ok(())
    }

    /// Sweeps every `sweep_interval` until cancelled, with a [`Reconciler`] beside it.
    pub async fn run(self, cancel: CancellationToken) {
        let reconciler =
            tokio::spawn(Reconciler::new(self.blobs.clone(), &self.args).run(cancel.child_token()));
        tracing::info!(retention = ?self.args.retention, interval = ?self.args.sweep_interval, "sweeper started");
        // Staleness counts from the start: a sweeper that never succeeds goes stale like
        // one that stopped succeeding.
        mark_success();
        let mut ticker = tokio::time::interval(self.args.sweep_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match self.sweep_once().await {
                // A full batch means more may be due: go again at once.
                Ok(report) if report.purged + report.failed >= CLAIM_BATCH => {
                    ticker.reset_immediately()
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sweep failed; retrying"),
            }
        }
        let _ = reconciler.await;
        tracing::info!("sweeper stopped");
    }
}

/// Records now as the sweeper's last success (`facefix_sweeper_last_success_timestamp_seconds`).
fn mark_success() {
    let now = Utc::now().timestamp_millis() as f64 / 1000.0;
    metrics().sweeper_last_success_timestamp_seconds.set(now);
}
