//! Handling one delivery: guard the state transition, fetch the input, run the processor,
//! store the result, update the record, then settle the message.
//!
//! Each failure is classified where it happens: a bad image is final (`failed`, acked), a
//! dependency hiccup is retried (requeued with backoff, dead-lettered past the limit).

use crate::consumer::Worker;
use crate::processors::{ProcessError, Processed, StageObserver};
use chrono::Utc;
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageInfo, JobEvent, JobFailure, JobId, JobRecord, JobState, Stage};
use facefix_shared::metrics::metrics;
use facefix_shared::ports::{BlobKey, Delivery, JobStore, Transition};
use facefix_shared::telemetry::continue_trace;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What to do with a delivery once its job has been handled.
#[derive(Debug)]
pub enum Outcome {
    /// Finished (succeeded, failed for good, or nothing to do): remove the message.
    Done,
    /// Failed transiently: back off, then requeue (counts towards the delivery limit).
    Retry { reason: &'static str },
    /// Interrupted by shutdown: requeue at once.
    Interrupted,
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Publishes stage changes as events, from whichever thread the processor runs on.
struct StagePublisher {
    store: Arc<dyn JobStore>,
    job_id: JobId,
    runtime: tokio::runtime::Handle,
}

impl StageObserver for StagePublisher {
    fn entered(&self, stage: Stage) {
        let store = self.store.clone();
        let event = JobEvent::Stage {
            job_id: self.job_id,
            stage,
        };
        // Progress is best effort: a lost stage event only makes the live view less detailed.
        self.runtime.spawn(async move {
            let _ = store.publish(&event).await;
        });
    }
}

impl Worker {
    /// Handles one delivery to the end, including settling it. Never panics outward.
    pub(crate) async fn handle(self: Arc<Self>, delivery: Delivery, interrupt: CancellationToken) {
        let id = delivery.message.job_id;
        let span = tracing::info_span!(
            "job",
            otel.kind = "consumer",
            job_id = %id,
            attempt = delivery.previous_deliveries + 1,
            worker_id = %self.worker_id,
        );
        continue_trace(&span, &delivery.trace);
        async move {
            metrics().jobs_in_flight.inc();
            let outcome = tokio::select! {
                outcome = AssertUnwindSafe(self.process(id)).catch_unwind() => outcome.unwrap_or_else(|_| {
                    tracing::error!("job processing panicked; retrying");
                    Outcome::Retry { reason: "panic" }
                }),
                _ = interrupt.cancelled() => Outcome::Interrupted,
            };
            metrics().jobs_in_flight.dec();
            self.settle(id, delivery, outcome, &interrupt).await;
        }
        .instrument(span)
        .await
    }

    async fn settle(
        &self,
        id: JobId,
        delivery: Delivery,
        outcome: Outcome,
        interrupt: &CancellationToken,
    ) {
        let result = match outcome {
            Outcome::Done => delivery.acker.ack().await,
            Outcome::Retry { reason } => {
                metrics()
                    .job_retries_total
                    .with_label_values(&[reason])
                    .inc();
                self.return_to_queued(id).await;
                let delay = self.args.backoff(delivery.previous_deliveries);
                tracing::warn!(
                    reason,
                    ?delay,
                    "transient failure; requeueing after a delay"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = interrupt.cancelled() => {}
                }
                delivery.acker.requeue().await
            }
            Outcome::Interrupted => {
                tracing::info!("drain budget spent; requeueing the job for another worker");
                self.return_to_queued(id).await;
                delivery.acker.requeue().await
            }
        };
        if let Err(error) = result {
            // The broker redelivers an unsettled message after a reconnect; the state guard
            // makes that harmless.
            tracing::warn!(%error, "could not settle the delivery; it will be redelivered");
        }
    }

    /// Shows a requeued job as queued again (only if it is still ours to requeue).
    async fn return_to_queued(&self, id: JobId) {
        let store = &self.services.store;
        if let Ok(Some(mut record)) = store.get(id).await
            && record.state == JobState::Processing
        {
            record.state = JobState::Queued;
            let _ = store.transition(&[JobState::Processing], &record).await;
        }
    }

    /// The job itself. Returns what to do with the message.
    async fn process(&self, id: JobId) -> Outcome {
        let store = &self.services.store;
        let record = match store.get(id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                tracing::info!("job no longer exists (deleted or expired); dropping the message");
                return Outcome::Done;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the job");
                return Outcome::Retry { reason: "store" };
            }
        };
        if record.state.is_final() {
            tracing::info!(state = %record.state, "job already final; duplicate delivery dropped");
            return Outcome::Done;
        }
        let started = Instant::now();
        let mut running = record;
        running.state = JobState::Processing;
        running.started_at = Some(Utc::now());
        running.attempts += 1;
        running.worker_id = Some(self.worker_id.clone());
        running.error = None;
        match store.transition(JobState::STARTABLE, &running).await {
            Ok(Transition::Applied) => {}
            Ok(other) => {
                tracing::info!(?other, "job not startable; dropping the message");
                return Outcome::Done;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot mark the job processing");
                return Outcome::Retry { reason: "store" };
            }
        }
        self.run_started(running, started).await
    }

    async fn run_started(&self, mut job: JobRecord, started: Instant) -> Outcome {
        let id = job.id;
        let observer: Arc<dyn StageObserver> = Arc::new(StagePublisher {
            store: self.services.store.clone(),
            job_id: id,
            runtime: tokio::runtime::Handle::current(),
        });
        observer.entered(Stage::Fetch);
        let fetch_start = Instant::now();
        let input = match self.services.blobs.get(BlobKey::Input(id)).await {
            Ok(Some(blob)) => match blob.into_bytes().await {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the input");
                    return Outcome::Retry { reason: "blobs" };
                }
            },
            Ok(None) => {
                let failure = JobFailure {
                    code: ErrorCode::Internal,
                    message: "the uploaded image is missing from the object store".to_string(),
                };
                return self.finish_failed(job, failure).await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the input");
                return Outcome::Retry { reason: "blobs" };
            }
        };
        let fetch_ms = ms_since(fetch_start);
        let processed = match self
            .processor
            .process(input, &job.params, observer.clone())
            .await
        {
            Ok(processed) => processed,
            Err(ProcessError::Permanent { code, message }) => {
                tracing::info!(%code, %message, "the image cannot be processed");
                return self.finish_failed(job, JobFailure { code, message }).await;
            }
            Err(ProcessError::Transient(reason)) => {
                tracing::warn!(%reason, "processing failed transiently");
                return Outcome::Retry {
                    reason: "processor",
                };
            }
        };
        observer.entered(Stage::Store);
        let store_start = Instant::now();
        let content_type = processed.format.content_type();
        if let Err(error) = self
            .services
            .blobs
            .put(BlobKey::Result(id), processed.bytes.clone(), content_type)
            .await
        {
            tracing::warn!(%error, "cannot store the result");
            return Outcome::Retry { reason: "blobs" };
        }
        let mut timings = processed.timings.clone();
        timings.fetch = Some(fetch_ms);
        timings.store = Some(ms_since(store_start));
        timings.total = Some(ms_since(started));
        job.timings_ms = timings;
        self.finish_succeeded(job, processed).await
    }

    async fn finish_succeeded(&self, mut job: JobRecord, processed: Processed) -> Outcome {
        let id = job.id;
        job.state = JobState::Succeeded;
        job.finished_at = Some(Utc::now());
        job.output = Some(ImageInfo {
            format: processed.format,
            content_type: processed.format.content_type().to_string(),
            width: processed.width,
            height: processed.height,
            bytes: processed.bytes.len() as u64,
        });
        job.faces_found = Some(processed.faces_found);
        job.faces_restored = Some(processed.faces_restored);
        job.notes.extend(processed.notes);
        match self
            .services
            .store
            .transition(JobState::FINISHABLE, &job)
            .await
        {
            Ok(Transition::Applied) => {
                record_finished(&job);
                tracing::info!(
                    faces = processed.faces_restored,
                    total_ms = job.timings_ms.total,
                    "job succeeded"
                );
                Outcome::Done
            }
            Ok(Transition::Missing) => {
                // Deleted or expired while we worked: the result must not outlive the job.
                tracing::info!("job vanished while processing; deleting its result");
                match self.services.blobs.delete(BlobKey::Result(id)).await {
                    Ok(()) => Outcome::Done,
                    Err(_) => Outcome::Retry { reason: "blobs" },
                }
            }
            Ok(Transition::Rejected { current }) => {
                tracing::info!(%current, "job finished elsewhere; keeping that outcome");
                Outcome::Done
            }
            Err(error) => {
                tracing::warn!(%error, "cannot record the result");
                Outcome::Retry { reason: "store" }
            }
        }
    }

    async fn finish_failed(&self, mut job: JobRecord, failure: JobFailure) -> Outcome {
        job.state = JobState::Failed;
        job.finished_at = Some(Utc::now());
        job.error = Some(failure);
        match self
            .services
            .store
            .transition(JobState::FINISHABLE, &job)
            .await
        {
            Ok(Transition::Applied) => {
                record_finished(&job);
                Outcome::Done
            }
            Ok(_) => Outcome::Done,
            Err(error) => {
                tracing::warn!(%error, "cannot record the failure");
                Outcome::Retry { reason: "store" }
            }
        }
    }
}

/// Metrics of a job that reached a final state.
pub(crate) fn record_finished(job: &JobRecord) {
    let m = metrics();
    let outcome = job.state.as_str();
    let code = job
        .error
        .as_ref()
        .map(|e| e.code.as_str())
        .unwrap_or("none");
    m.jobs_finished_total
        .with_label_values(&[outcome, code])
        .inc();
    let seconds = (Utc::now() - job.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    m.job_duration_seconds
        .with_label_values(&[outcome])
        .observe(seconds);
    for (stage, ms) in job.timings_ms.entries() {
        m.stage_duration_seconds
            .with_label_values(&[stage])
            .observe(ms / 1000.0);
    }
    if let Some(faces) = job.faces_restored {
        m.faces_per_job
            .with_label_values(&[] as &[&str])
            .observe(f64::from(faces));
    }
}
