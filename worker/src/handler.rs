//! Handling one delivery: start the job, fetch the input, run the processor, store the
//! result, record the outcome, then settle the message.
//!
//! Each failure is classified where it happens: a bad image is final (`failed`, acked), a
//! dependency hiccup is retried (requeued with backoff, dead-lettered past the limit).
//! Every state change comes from `facefix_shared::job::lifecycle`.

mod progress;

use crate::job_metrics::record_finished;
use crate::processors::{ImageProcessor, ProcessError, Processed, StageObserver};
use crate::worker_args::WorkerArgs;
use bytes::Bytes;
use chrono::Utc;
use facefix_shared::ErrorCode;
use facefix_shared::connect::Services;
use facefix_shared::job::lifecycle::{self, GuardedUpdate, JobOutput};
use facefix_shared::job::{ImageInfo, JobFailure, JobId, JobRecord, Stage, StageTimings};
use facefix_shared::metrics::metrics;
use facefix_shared::ports::{BlobKey, Delivery, Transition};
use facefix_shared::telemetry::continue_trace;
use facefix_shared::time::elapsed_ms;
use futures_util::FutureExt;
use progress::StagePublisher;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What to do with a delivery once its job has been handled.
#[derive(Debug)]
enum Outcome {
    /// Finished (succeeded, failed for good, or nothing to do): remove the message.
    Done,
    /// Failed transiently: back off, then requeue (counts towards the delivery limit).
    Retry { reason: &'static str },
    /// Interrupted by shutdown: requeue at once.
    Interrupted,
}

/// Handles deliveries of the job queue, one job each, for one worker.
pub(crate) struct JobHandler {
    services: Services,
    processor: Arc<dyn ImageProcessor>,
    args: WorkerArgs,
    worker_id: String,
}

impl JobHandler {
    pub(crate) fn new(
        services: Services,
        processor: Arc<dyn ImageProcessor>,
        args: WorkerArgs,
        worker_id: String,
    ) -> Self {
        Self {
            services,
            processor,
            args,
            worker_id,
        }
    }

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

    /// Shows a requeued job as queued again (the guard applies it only to a job still
    /// processing). Best effort: the redelivery starts the job either way.
    async fn return_to_queued(&self, id: JobId) {
        let store = &self.services.store;
        // Issue 11: requeue the attempt this handler started, not whatever is stored now.
        if let Ok(Some(record)) = store.get(id).await {
            let _ = store.transition(&lifecycle::requeue(record)).await;
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
        let start = lifecycle::start(record, &self.worker_id, Utc::now());
        match store.transition(&start).await {
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
        let running = start.into_next();
        match self.run(&running, started).await {
            Ok(update) => self.finish(update).await,
            Err(outcome) => outcome,
        }
    }

    /// Runs a started job to the update that ends it (succeed or fail), or to what to do
    /// with the message when it cannot end now.
    async fn run(&self, job: &JobRecord, started: Instant) -> Result<GuardedUpdate, Outcome> {
        let id = job.id;
        let observer: Arc<dyn StageObserver> = Arc::new(StagePublisher {
            store: self.services.store.clone(),
            job_id: id,
            runtime: tokio::runtime::Handle::current(),
        });
        observer.entered(Stage::Fetch);
        let fetch_start = Instant::now();
        let Some(input) = self.fetch_input(id).await? else {
            let failure = JobFailure {
                code: ErrorCode::Internal,
                message: "the uploaded image is missing from the object store".to_string(),
            };
            return Ok(lifecycle::fail(job.clone(), failure, Utc::now()));
        };
        let fetch_ms = elapsed_ms(fetch_start);
        let processed = match self
            .processor
            .process(input, &job.params, observer.clone())
            .await
        {
            Ok(processed) => processed,
            Err(ProcessError::Permanent { code, message }) => {
                tracing::info!(%code, %message, "the image cannot be processed");
                let failure = JobFailure { code, message };
                return Ok(lifecycle::fail(job.clone(), failure, Utc::now()));
            }
            Err(ProcessError::Transient(reason)) => {
                tracing::warn!(%reason, "processing failed transiently");
                return Err(Outcome::Retry {
                    reason: "processor",
                });
            }
        };
        observer.entered(Stage::Store);
        let store_start = Instant::now();
        if let Err(error) = self
            .services
            .blobs
            .put(
                BlobKey::Result(id),
                processed.bytes.clone(),
                processed.format.content_type(),
            )
            .await
        {
            tracing::warn!(%error, "cannot store the result");
            return Err(Outcome::Retry { reason: "blobs" });
        }
        let mut timings = processed.timings.clone();
        timings.fetch = Some(fetch_ms);
        timings.store = Some(elapsed_ms(store_start));
        timings.total = Some(elapsed_ms(started));
        let output = job_output(processed, timings);
        Ok(lifecycle::succeed(job.clone(), output, Utc::now()))
    }

    /// The uploaded image; `None` when it is missing for good.
    async fn fetch_input(&self, id: JobId) -> Result<Option<Bytes>, Outcome> {
        match self.services.blobs.get(BlobKey::Input(id)).await {
            Ok(Some(blob)) => blob.into_bytes().await.map(Some).map_err(|error| {
                tracing::warn!(%error, "cannot read the input");
                Outcome::Retry { reason: "blobs" }
            }),
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the input");
                Err(Outcome::Retry { reason: "blobs" })
            }
        }
    }

    /// Records the final state `update` carries (succeeded or failed).
    async fn finish(&self, update: GuardedUpdate) -> Outcome {
        // Only a success stored a result object this attempt.
        let stored_result = update.next().output.is_some();
        match self.services.store.transition(&update).await {
            Ok(Transition::Applied) => {
                let job = update.next();
                record_finished(job);
                tracing::info!(
                    state = %job.state,
                    faces = job.faces_restored,
                    total_ms = job.timings_ms.total,
                    "job finished"
                );
                Outcome::Done
            }
            Ok(Transition::Missing) if stored_result => {
                // Deleted or expired while we worked: the result must not outlive the job.
                tracing::info!("job vanished while processing; deleting its result");
                match self
                    .services
                    .blobs
                    .delete(BlobKey::Result(update.next().id))
                    .await
                {
                    Ok(()) => Outcome::Done,
                    Err(_) => Outcome::Retry { reason: "blobs" },
                }
            }
            Ok(Transition::Missing) => Outcome::Done,
            Ok(Transition::Rejected { current }) => {
                tracing::info!(%current, "job finished elsewhere; keeping that outcome");
                Outcome::Done
            }
            Err(error) => {
                tracing::warn!(%error, "cannot record the outcome");
                Outcome::Retry { reason: "store" }
            }
        }
    }
}

/// What the processor made, as the job record keeps it.
fn job_output(processed: Processed, timings: StageTimings) -> JobOutput {
    JobOutput {
        image: ImageInfo {
            format: processed.format,
            content_type: processed.format.content_type().to_string(),
            width: processed.width,
            height: processed.height,
            bytes: processed.bytes.len() as u64,
        },
        faces_found: processed.faces_found,
        faces_restored: processed.faces_restored,
        timings,
        notes: processed.notes,
    }
}
