//! The retention guarantee: every job's objects and record are destroyed at `expires_at`.
//!
//! The sweeper claims due ids from the purge schedule atomically (several sweepers may
//! run), deletes the objects, then the record, and only then removes the id from the
//! schedule. A crash at any step leaves the id scheduled, so another sweep finishes it.

use crate::config::RetentionArgs;
use crate::job::{JobId, JobState, Removal, lifecycle};
use crate::metrics::metrics;
use crate::ports::{BlobError, BlobKey, BlobStore, JobStore, StoreError};
use chrono::Utc;
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

/// Deletes every object of the job, then its record (which publishes `deleted` or
/// `expired`). Idempotent. The purge schedule is not touched: see [`Sweeper`].
pub async fn purge_job(
    store: &dyn JobStore,
    blobs: &dyn BlobStore,
    removal: Removal,
) -> Result<(), PurgeError> {
    for key in BlobKey::all_of(removal.id) {
        blobs.delete(key).await.inspect_err(|_| {
            metrics()
                .purge_errors_total
                .with_label_values(&["objects"])
                .inc();
        })?;
    }
    store.delete_record(removal).await.inspect_err(|_| {
        metrics()
            .purge_errors_total
            .with_label_values(&["record"])
            .inc();
    })?;
    metrics()
        .purges_total
        .with_label_values(&[removal.reason.as_str()])
        .inc();
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
        Self { store, blobs, args }
    }

    /// Claims and purges what is due now.
    pub async fn sweep_once(&self) -> Result<SweepReport, StoreError> {
        let now = Utc::now();
        self.update_lag_metric(now).await;
        let due = self
            .store
            .claim_due(now, self.args.purge_lease, CLAIM_BATCH)
            .await?;
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
        Ok(report)
    }

    async fn purge_due_job(&self, id: JobId) -> Result<(), PurgeError> {
        let was_processing = self
            .store
            .get(id)
            .await?
            .is_some_and(|record| record.state == JobState::Processing);
        purge_job(
            self.store.as_ref(),
            self.blobs.as_ref(),
            lifecycle::expire(id),
        )
        .await?;
        if was_processing {
            // A worker may still write a result after this purge (it deletes it again when
            // it finds the record gone, unless it dies first): keep the id scheduled for one
            // more sweep after the lease, which catches such a late object.
            tracing::info!(job_id = %id, "purged a job mid-processing; one more sweep follows");
            return Ok(());
        }
        self.store.unschedule_purge(id).await?;
        tracing::info!(job_id = %id, "job expired and purged");
        Ok(())
    }

    async fn update_lag_metric(&self, now: chrono::DateTime<Utc>) {
        if let Ok(oldest) = self.store.oldest_purge_due().await {
            let lag = oldest
                .map(|due| (now - due).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics().purge_lag_seconds.set(lag);
        }
    }

    /// Sweeps every `sweep_interval` until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(retention = ?self.args.retention, interval = ?self.args.sweep_interval, "sweeper started");
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
        tracing::info!("sweeper stopped");
    }
}
