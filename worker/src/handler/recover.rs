//! Jobs whose record the job store lost (Redis restarted without persistence, was flushed,
//! or evicted the key) come back from their queue message, unless they are gone for good:
//! a deleted or expired job has no input any more.

use super::{JobHandler, Outcome, RetryReason};
use chrono::{DateTime, Utc};
use facefix_shared::config::record_grace;
use facefix_shared::job::{JobMessage, JobRecord, JobSeed, lifecycle};
use facefix_shared::ports::{JobObjects, StoreError};
use facefix_shared::retention::purge_job;
use std::time::Duration;

fn store_retry(error: StoreError) -> Outcome {
    tracing::warn!(%error, "cannot recreate the job");
    Outcome::Retry {
        reason: RetryReason::Store,
    }
}

/// TTL of a recreated record: until the job expires, plus the grace every record gets.
fn record_ttl(seed: &JobSeed, now: DateTime<Utc>) -> Duration {
    let until = |at: DateTime<Utc>, from: DateTime<Utc>| (at - from).to_std().unwrap_or_default();
    until(seed.expires_at, now) + record_grace(until(seed.expires_at, seed.created_at))
}

impl JobHandler {
    /// The job's record, recreated from `message` (queued and back on the purge schedule),
    /// or what to do with the message when the job is not to come back.
    pub(super) async fn recreate(&self, message: &JobMessage) -> Result<JobRecord, Outcome> {
        let Some(seed) = &message.job else {
            // A version 1 message cannot say what the job was.
            tracing::info!("job no longer exists (deleted or expired); dropping the message");
            return Err(Outcome::Done);
        };
        let id = message.job_id;
        let now = Utc::now();
        if seed.expires_at <= now {
            tracing::info!("job expired; dropping the message");
            return Err(Outcome::Done);
        }
        let objects = JobObjects::new(id, seed.expires_at);
        if !self.input_exists(&objects).await? {
            tracing::info!("job no longer exists (deleted); dropping the message");
            return Err(Outcome::Done);
        }
        let store = &self.services.store;
        // On the purge schedule first, as on upload: whatever happens next, the sweeper
        // purges the job at expiry.
        store
            .schedule_purge(id, seed.expires_at)
            .await
            .map_err(store_retry)?;
        let record = lifecycle::recreate(id, seed.clone());
        let written = store
            .restore(&record, record_ttl(seed, now))
            .await
            .map_err(store_retry)?;
        // A delete since the check above removed the input and then a record that did not
        // exist yet: look again now that it does, and finish the delete if so.
        if !self.input_exists(&objects).await? {
            tracing::info!("job deleted while being recreated; dropping the message");
            let purged = purge_job(
                store.as_ref(),
                self.services.blobs.as_ref(),
                lifecycle::delete(id),
                Some(objects),
            )
            .await;
            return Err(match purged {
                Ok(()) => Outcome::Done,
                Err(_) => Outcome::Retry {
                    reason: RetryReason::Store,
                },
            });
        }
        if written {
            tracing::warn!("the job store had lost this job; recreated it from its queue message");
        }
        // Read back: another delivery may have recreated (and started) it first.
        match store.get(id).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(Outcome::Done),
            Err(error) => Err(store_retry(error)),
        }
    }

    /// After this attempt found the record gone at its end: the message goes back to the
    /// queue only when the job is still wanted (its input exists and it has not expired),
    /// which means the store lost the record; the redelivery recreates it.
    pub(super) async fn after_lost_record(&self, job: &JobRecord) -> Outcome {
        if job.expires_at <= Utc::now() {
            return Outcome::Done;
        }
        match self.input_exists(&JobObjects::of(job)).await {
            Ok(true) => Outcome::Retry {
                reason: RetryReason::RecordLost,
            },
            Ok(false) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }

    async fn input_exists(&self, objects: &JobObjects) -> Result<bool, Outcome> {
        self.services
            .blobs
            .exists(&objects.input())
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot check the job's input");
                Outcome::Retry {
                    reason: RetryReason::Blobs,
                }
            })
    }
}
