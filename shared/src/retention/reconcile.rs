//! Reconciliation: deletes every object past its expiry, whatever the job store says.
//!
//! The purge schedule is the fast path; this pass is what keeps the promise when the job
//! store lost it. Object names carry the second their job expires, and within each of the
//! 16 shards they sort by it (`ports::blob::JobObjects`), so each pass lists every shard
//! from its start and stops at the first name not yet due: the cost of a pass follows
//! what is due, not what is stored. Objects of older versions, whose names carry no
//! expiry, go once they are older than the retention (upgrade path).

use crate::config::RetentionArgs;
use crate::metrics::{export_at_zero, metrics};
use crate::ports::blob::{legacy_listings, shard_prefixes};
use crate::ports::{BlobKey, BlobStore, KeyExpiry, ObjectPage};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Objects per listing page: enough for a pass after a store loss, small enough that a
/// shard with nothing due answers quickly.
const PAGE: usize = 250;
/// The `step` labels of `facefix_reconcile_errors_total`.
const STEP_LIST: &str = "list";
const STEP_DELETE: &str = "delete";
/// The `layout` labels of `facefix_reconciled_objects_total`.
const LAYOUT_CURRENT: &str = "current";
const LAYOUT_LEGACY: &str = "legacy";

/// The reconciliation counters' series, exported at zero before the first pass.
fn export_series() {
    let metrics = metrics();
    export_at_zero(&metrics.reconcile_errors_total, &[STEP_LIST, STEP_DELETE]);
    export_at_zero(
        &metrics.reconciled_objects_total,
        &[LAYOUT_CURRENT, LAYOUT_LEGACY],
    );
}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Objects past their expiry, deleted.
    pub deleted: usize,
    /// Objects of older versions older than the retention, deleted.
    pub deleted_legacy: usize,
    /// Listings or deletes that failed (the next pass tries again).
    pub errors: usize,
}

impl ReconcileReport {
    fn add(mut self, other: Self) -> Self {
        self.deleted += other.deleted;
        self.deleted_legacy += other.deleted_legacy;
        self.errors += other.errors;
        self
    }
}

/// Which names a listing deletes.
#[derive(Debug, Clone, Copy)]
enum Scan {
    /// A shard of current names, in expiry order: delete those due, stop at the first not.
    Shard,
    /// Names of older versions, in no useful order: delete those older than the retention.
    Legacy,
}

/// Deletes due objects straight from the object store, every `reconcile_interval`.
#[derive(Clone)]
pub struct Reconciler {
    blobs: Arc<dyn BlobStore>,
    /// How old an object of an older version must be to go.
    retention: chrono::Duration,
    interval: Duration,
}

impl Reconciler {
    pub fn new(blobs: Arc<dyn BlobStore>, args: &RetentionArgs) -> Self {
        export_series();
        Self {
            blobs,
            // A retention too long to represent never runs out, as the operator meant.
            retention: chrono::Duration::from_std(args.retention).unwrap_or(chrono::Duration::MAX),
            // A zero interval would spin (and tokio refuses it).
            interval: args.reconcile_interval.max(Duration::from_millis(100)),
        }
    }

    /// Deletes every object due at `now`: past its expiry, or of an older version and
    /// older than the retention. Shards are listed at once; a failed listing or delete is
    /// counted and left to the next pass.
    pub async fn reconcile_once(&self, now: DateTime<Utc>) -> ReconcileReport {
        let shards = shard_prefixes().map(|prefix| self.scan(prefix, None, Scan::Shard, now));
        let legacy = legacy_listings()
            .map(|(prefix, after)| self.scan(prefix, Some(after), Scan::Legacy, now));
        let (shards, legacy) = tokio::join!(join_all(shards), join_all(legacy));
        let report = shards
            .into_iter()
            .chain(legacy)
            .fold(ReconcileReport::default(), ReconcileReport::add);
        if report.deleted + report.deleted_legacy > 0 || report.errors > 0 {
            tracing::info!(
                deleted = report.deleted,
                deleted_legacy = report.deleted_legacy,
                errors = report.errors,
                "reconciliation pass deleted objects the purge schedule missed"
            );
        }
        report
    }

    /// Lists `prefix` page by page from `start_after`, deleting what `scan` says is due.
    async fn scan(
        &self,
        prefix: String,
        mut start_after: Option<String>,
        scan: Scan,
        now: DateTime<Utc>,
    ) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        loop {
            let page = match self.blobs.list(&prefix, start_after.as_deref(), PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%prefix, %error, "reconciliation cannot list objects");
                    metrics()
                        .reconcile_errors_total
                        .with_label_values(&[STEP_LIST])
                        .inc();
                    report.errors += 1;
                    return report;
                }
            };
            let ObjectPage { objects, truncated } = page;
            for object in &objects {
                let due = match (scan, object.key.expiry()) {
                    (Scan::Shard, KeyExpiry::DueAt(due)) if due <= now => true,
                    // Names sort by expiry: nothing after this one is due either.
                    (Scan::Shard, KeyExpiry::DueAt(_)) => return report,
                    (Scan::Legacy, KeyExpiry::Legacy) => object
                        .last_modified
                        .checked_add_signed(self.retention)
                        .is_some_and(|due| due <= now),
                    // Not a job object: never ours to delete.
                    _ => false,
                };
                if due {
                    self.delete(&object.key, scan, &mut report).await;
                }
            }
            match objects.last() {
                Some(last) if truncated => start_after = Some(last.key.as_str().to_string()),
                _ => return report,
            }
        }
    }

    async fn delete(&self, key: &BlobKey, scan: Scan, report: &mut ReconcileReport) {
        let layout = match scan {
            Scan::Shard => LAYOUT_CURRENT,
            Scan::Legacy => LAYOUT_LEGACY,
        };
        match self.blobs.delete(key).await {
            Ok(()) => {
                metrics()
                    .reconciled_objects_total
                    .with_label_values(&[layout])
                    .inc();
                match scan {
                    Scan::Shard => report.deleted += 1,
                    Scan::Legacy => report.deleted_legacy += 1,
                }
            }
            Err(error) => {
                tracing::warn!(%key, %error, "reconciliation cannot delete an object");
                metrics()
                    .reconcile_errors_total
                    .with_label_values(&[STEP_DELETE])
                    .inc();
                report.errors += 1;
            }
        }
    }

    /// Reconciles every `reconcile_interval` until cancelled, the first time at once.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(interval = ?self.interval, "reconciliation started");
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let report = tokio::select! {
                _ = cancel.cancelled() => break,
                report = self.reconcile_once(Utc::now()) => report,
            };
            if report.errors == 0 {
                metrics()
                    .reconcile_last_success_timestamp_seconds
                    .set(Utc::now().timestamp_millis() as f64 / 1000.0);
            }
        }
        tracing::info!("reconciliation stopped");
    }
}
