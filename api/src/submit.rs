//! The upload use case, without HTTP: admit an upload against the backlog, then make a job
//! of it — schedule its purge, store the input, write the record, publish the message —
//! and, when a step fails, undo the earlier ones so nothing is left behind.
//!
//! The route asks [`check_room`] before reading the request, reads and checks it, then
//! takes a slot with [`admit`] and calls [`submit`]; it maps a [`SubmitError`] to a
//! response.

use crate::backlog::{Admission, BacklogMonitor};
use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::config::RetentionArgs;
use facefix_shared::connect::Services;
use facefix_shared::job::{ImageInfo, JobId, JobMessage, JobParams, JobRecord, lifecycle};
use facefix_shared::metrics::metrics;
use facefix_shared::ports::{BlobError, JobObjects, QueueError, StoreError};
use facefix_shared::retention::purge_job;
use facefix_shared::telemetry::trace_headers;
use std::time::Duration;

/// Why an upload did not become a job. Nothing of it is left behind.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("too many jobs are waiting; try again later")]
    BacklogFull { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl SubmitError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BacklogFull { .. } => ErrorCode::BacklogFull,
            Self::Store(_) => ErrorCode::StoreUnavailable,
            Self::Blob(_) => ErrorCode::BlobUnavailable,
            Self::Queue(_) => ErrorCode::QueueUnavailable,
        }
    }
}

/// A checked upload: valid options and an image whose header passed the limits.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub params: JobParams,
    pub input: ImageInfo,
    pub image: Bytes,
    /// The name of the API key submitting it, when keys are on.
    pub owner: Option<String>,
}

fn backlog_full(backlog: &BacklogMonitor) -> SubmitError {
    SubmitError::BacklogFull {
        retry_after: backlog.args.backlog_retry_after,
    }
}

/// Refuses an upload while the backlog is full, without taking a slot. Call it before
/// reading the body: the cheapest refusal is the one that reads nothing.
pub fn check_room(backlog: &BacklogMonitor) -> Result<(), SubmitError> {
    if backlog.has_room() {
        Ok(())
    } else {
        Err(backlog_full(backlog))
    }
}

/// Takes a backlog slot for one upload. Call it once the body is in and checked: a slot
/// held while a slow client sends would let slow uploads lock everyone else out.
pub fn admit(backlog: &BacklogMonitor) -> Result<Admission<'_>, SubmitError> {
    backlog.admit().ok_or_else(|| backlog_full(backlog))
}

/// Makes `job` a queued job on its admission. Returns once the input is stored, the
/// record written and the queue message confirmed; on failure the slot is given back and
/// nothing is left behind.
pub async fn submit(
    services: &Services,
    retention: &RetentionArgs,
    admission: Admission<'_>,
    job: NewJob,
) -> Result<JobRecord, SubmitError> {
    let id = JobId::new_random();
    tracing::Span::current().record("job_id", tracing::field::display(id));
    let format = job.input.format;
    let mut record = lifecycle::create(
        id,
        job.params,
        job.input,
        chrono::Utc::now(),
        retention.retention,
    );
    record.owner = job.owner;
    enqueue(services, retention, &record, job.image).await?;
    admission.keep();
    metrics()
        .jobs_created_total
        .with_label_values(&[format.extension()])
        .inc();
    metrics()
        .upload_bytes
        .with_label_values(&[format.extension()])
        .observe(record.input.bytes as f64);
    tracing::info!(job_id = %id, format = format.extension(), width = record.input.width, height = record.input.height, "job accepted");
    Ok(record)
}

/// Schedules the purge, stores the input, writes the record and publishes the message, in
/// that order; if a step fails, undoes the earlier ones.
async fn enqueue(
    services: &Services,
    retention: &RetentionArgs,
    record: &JobRecord,
    image: Bytes,
) -> Result<(), SubmitError> {
    let id = record.id;
    // First, so that a crash at any later point leaves a purge entry the sweeper honours.
    services.store.schedule_purge(id, record.expires_at).await?;
    // Named by the job's expiry: the object store alone says when it must go.
    let objects = JobObjects::of(record);
    if let Err(error) = services
        .blobs
        .put(&objects.input(), image, &record.input.content_type)
        .await
    {
        rollback(services, objects, false).await;
        return Err(error.into());
    }
    if let Err(error) = services.store.create(record, retention.record_ttl()).await {
        rollback(services, objects, true).await;
        return Err(error.into());
    }
    // The message carries the job as accepted, so a worker can recreate a record the
    // store loses.
    let message = JobMessage::for_job(record, record.created_at);
    let trace = trace_headers(&tracing::Span::current());
    if let Err(error) = services.queue.publish(&message, &trace).await {
        rollback(services, objects, true).await;
        return Err(error.into());
    }
    Ok(())
}

/// Best-effort undo of a half-created job. Whatever cannot be undone now (the dependency is
/// down) stays on the purge schedule, and the sweeper removes it at expiry.
async fn rollback(services: &Services, objects: JobObjects, stored: bool) {
    let id = objects.id();
    if stored
        && let Err(error) = purge_job(
            services.store.as_ref(),
            services.blobs.as_ref(),
            lifecycle::delete(id),
            Some(objects),
        )
        .await
    {
        tracing::warn!(job_id = %id, %error, "rollback incomplete; the sweeper will purge at expiry");
        return;
    }
    if let Err(error) = services.store.unschedule_purge(id).await {
        tracing::warn!(job_id = %id, %error, "rollback left a purge entry; the sweeper will clear it at expiry");
    }
}
