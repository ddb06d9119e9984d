//! Handling one delivery: start the job, fetch the input, run the processor, store the
//! result, record the outcome, then settle the message.
//!
//! Each failure is classified where it happens: a bad image is final (`failed`, acked), a
//! dependency hiccup is retried (requeued with backoff, dead-lettered past the limit).
//! Every state change comes from `facefix_shared::job::lifecycle`.
//!
//! Two deliveries of one job may run at once: a redelivery takes the job over from a worker
//! the broker gave up on, which may still be running. Each attempt writes its own result
//! object and every change it makes is guarded by its attempt, so only the attempt that
//! owns the job can finish it or show it queued again. An attempt that lost the job deletes
//! its own result and drops its delivery: the owner holds a message of its own, or the job
//! is final and needs none.

mod progress;
mod recover;
#[cfg(test)]
mod tests;

use crate::job_metrics::record_finished;
use crate::processors::{ImageProcessor, ProcessError, Processed, StageObserver};
use crate::webhooks::{JobWebhook, Webhooks};
use crate::worker_args::WorkerArgs;
use bytes::Bytes;
use chrono::Utc;
use facefix_shared::ErrorCode;
use facefix_shared::connect::Services;
use facefix_shared::job::lifecycle::{self, GuardedUpdate, JobOutput};
use facefix_shared::job::{ImageInfo, JobFailure, JobMessage, JobRecord, Stage, StageTimings};
use facefix_shared::metrics::{export_at_zero, metrics};
use facefix_shared::ports::blob::get_or_legacy;
use facefix_shared::ports::{BlobKey, Delivery, JobObjects, Transition};
use facefix_shared::telemetry::continue_trace;
use facefix_shared::time::elapsed_ms;
use facefix_shared::webhook::{WebhookArgs, WebhookEvent};
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
    Retry { reason: RetryReason },
    /// Interrupted by shutdown: requeue at once.
    Interrupted,
}

/// Why a delivery is retried: the `reason` label of `facefix_job_retries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryReason {
    /// The job store did not answer.
    Store,
    /// The object store did not answer.
    Blobs,
    /// The image processor failed transiently (e.g. the GPU ran out of memory).
    Processor,
    /// Processing panicked.
    Panic,
    /// The job store lost the record while the job ran; the redelivery recreates it.
    RecordLost,
}

impl RetryReason {
    const ALL: [Self; 5] = [
        Self::Store,
        Self::Blobs,
        Self::Processor,
        Self::Panic,
        Self::RecordLost,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Blobs => "blobs",
            Self::Processor => "processor",
            Self::Panic => "panic",
            Self::RecordLost => "record-lost",
        }
    }

    /// Exports every reason at zero, so dashboards and `rate()` see the series before the
    /// first retry rather than nothing.
    fn export_all() {
        export_at_zero(&metrics().job_retries_total, &Self::ALL.map(Self::as_str));
    }
}

/// Handles deliveries of the job queue, one job each, for one worker.
pub(crate) struct JobHandler {
    services: Services,
    processor: Arc<dyn ImageProcessor>,
    args: WorkerArgs,
    worker_id: String,
    webhooks: Arc<Webhooks>,
}

impl JobHandler {
    pub(crate) fn new(
        services: Services,
        processor: Arc<dyn ImageProcessor>,
        args: WorkerArgs,
        worker_id: String,
        webhooks: WebhookArgs,
    ) -> Self {
        RetryReason::export_all();
        Self {
            services,
            processor,
            args,
            worker_id,
            webhooks: Webhooks::new(webhooks),
        }
    }

    /// The webhook sender (shared with the dead-letter consumer, whose `gave-up` is a
    /// final state too).
    pub(crate) fn webhooks(&self) -> Arc<Webhooks> {
        Arc::clone(&self.webhooks)
    }

    /// Handles one delivery to the end, including settling it. Never panics outward.
    pub(crate) async fn handle(self: Arc<Self>, delivery: Delivery, interrupt: CancellationToken) {
        let span = tracing::info_span!(
            "job",
            otel.kind = "consumer",
            job_id = %delivery.message.job_id,
            attempt = delivery.previous_deliveries + 1,
            worker_id = %self.worker_id,
        );
        continue_trace(&span, &delivery.trace);
        async move {
            metrics().jobs_in_flight.inc();
            // The record this delivery's attempt started, once it has: what it may hand back.
            let mut running = None;
            let outcome = tokio::select! {
                outcome = AssertUnwindSafe(self.process(&delivery.message, &mut running)).catch_unwind() => outcome.unwrap_or_else(|_| {
                    tracing::error!("job processing panicked; retrying");
                    Outcome::Retry { reason: RetryReason::Panic }
                }),
                _ = interrupt.cancelled() => Outcome::Interrupted,
            };
            metrics().jobs_in_flight.dec();
            self.settle(delivery, running, outcome, &interrupt).await;
        }
        .instrument(span)
        .await
    }

    async fn settle(
        &self,
        delivery: Delivery,
        running: Option<JobRecord>,
        outcome: Outcome,
        interrupt: &CancellationToken,
    ) {
        let result = match outcome {
            Outcome::Done => delivery.acker.ack().await,
            Outcome::Retry { reason } => {
                metrics()
                    .job_retries_total
                    .with_label_values(&[reason.as_str()])
                    .inc();
                if self.hand_back(running).await {
                    let delay = self.args.backoff(delivery.previous_deliveries);
                    tracing::warn!(
                        reason = reason.as_str(),
                        ?delay,
                        "transient failure; requeueing after a delay"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = interrupt.cancelled() => {}
                    }
                    delivery.acker.requeue().await
                } else {
                    delivery.acker.ack().await
                }
            }
            Outcome::Interrupted => {
                if self.hand_back(running).await {
                    tracing::info!("drain budget spent; requeueing the job for another worker");
                    delivery.acker.requeue().await
                } else {
                    delivery.acker.ack().await
                }
            }
        };
        if let Err(error) = result {
            // The broker redelivers an unsettled message after a reconnect; the guards make
            // that harmless.
            tracing::warn!(%error, "could not settle the delivery; it will be redelivered");
        }
    }

    /// Shows the job queued again if this delivery's attempt (`running`) still owns it, and
    /// says whether the message goes back to the queue. It does not when another attempt
    /// owns the job or the job is final: that attempt holds a message of its own, or none is
    /// needed, and one more would only take the job over again.
    async fn hand_back(&self, running: Option<JobRecord>) -> bool {
        // Never started: the job waits for this very message.
        let Some(running) = running else {
            return true;
        };
        match self
            .services
            .store
            .transition(&lifecycle::requeue(running))
            .await
        {
            Ok(Transition::Applied) => true,
            Ok(Transition::Rejected { current }) => {
                tracing::info!(%current, "another attempt owns the job, or it is final; dropping this delivery");
                false
            }
            // Deleted, expired or lost with the store: the redelivery finds out which (and
            // recreates the job in the last case).
            Ok(Transition::Missing) => true,
            Err(error) => {
                // The redelivery starts the job either way.
                tracing::warn!(%error, "cannot show the job queued again");
                true
            }
        }
    }

    /// The job itself. Returns what to do with the message; `running` gets the record once
    /// this delivery's attempt has started the job.
    async fn process(&self, message: &JobMessage, running: &mut Option<JobRecord>) -> Outcome {
        let store = &self.services.store;
        let record = match store.get(message.job_id).await {
            Ok(Some(record)) => record,
            Ok(None) => match self.recreate(message).await {
                Ok(record) => record,
                Err(outcome) => return outcome,
            },
            Err(error) => {
                tracing::warn!(%error, "cannot read the job");
                return Outcome::Retry {
                    reason: RetryReason::Store,
                };
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
                // Another delivery started it since it was read (and owns its message), or
                // it finished or went.
                tracing::info!(?other, "job not startable; dropping the message");
                return Outcome::Done;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot mark the job processing");
                return Outcome::Retry {
                    reason: RetryReason::Store,
                };
            }
        }
        let job = running.insert(start.into_next());
        // Calls go out on their own task: the job never waits for its webhook.
        let webhook = self.webhooks.for_job(job);
        if let Some(webhook) = &webhook {
            webhook.notify(WebhookEvent::Started, job, None);
        }
        match self.run(job, started, webhook.as_ref()).await {
            Ok(update) => self.finish(update, webhook.as_ref()).await,
            Err(outcome) => outcome,
        }
    }

    /// Runs a started job to the update that ends it (succeed or fail), or to what to do
    /// with the message when it cannot end now.
    async fn run(
        &self,
        job: &JobRecord,
        started: Instant,
        webhook: Option<&JobWebhook>,
    ) -> Result<GuardedUpdate, Outcome> {
        let objects = JobObjects::of(job);
        let observer: Arc<dyn StageObserver> = Arc::new(StagePublisher {
            store: self.services.store.clone(),
            job_id: job.id,
            runtime: tokio::runtime::Handle::current(),
            webhook: webhook.map(|webhook| (webhook.clone(), job.clone())),
        });
        observer.entered(Stage::Fetch);
        let fetch_start = Instant::now();
        let Some(input) = self.fetch_input(&objects).await? else {
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
                    reason: RetryReason::Processor,
                });
            }
        };
        observer.entered(Stage::Store);
        let store_start = Instant::now();
        // This attempt's own result: an attempt that lost the job cannot overwrite the
        // owner's.
        if let Err(error) = self
            .services
            .blobs
            .put(
                &objects.result(job.attempts),
                processed.bytes.clone(),
                processed.format.content_type(),
            )
            .await
        {
            tracing::warn!(%error, "cannot store the result");
            return Err(Outcome::Retry {
                reason: RetryReason::Blobs,
            });
        }
        let mut timings = processed.timings.clone();
        timings.fetch = Some(fetch_ms);
        timings.store = Some(elapsed_ms(store_start));
        timings.total = Some(elapsed_ms(started));
        let output = job_output(processed, timings);
        Ok(lifecycle::succeed(job.clone(), output, Utc::now()))
    }

    /// The uploaded image; `None` when it is missing for good. A job stored by an older
    /// version has it under the old name (upgrade path).
    async fn fetch_input(&self, objects: &JobObjects) -> Result<Option<Bytes>, Outcome> {
        let legacy = BlobKey::legacy_input(objects.id());
        match get_or_legacy(self.services.blobs.as_ref(), &objects.input(), &legacy).await {
            Ok(Some(blob)) => blob.into_bytes().await.map(Some).map_err(|error| {
                tracing::warn!(%error, "cannot read the input");
                Outcome::Retry {
                    reason: RetryReason::Blobs,
                }
            }),
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the input");
                Err(Outcome::Retry {
                    reason: RetryReason::Blobs,
                })
            }
        }
    }

    /// Records the final state `update` carries (succeeded or failed).
    async fn finish(&self, update: GuardedUpdate, webhook: Option<&JobWebhook>) -> Outcome {
        let job = update.next();
        // Only a success stored a result object, under this attempt's name.
        let result = job
            .output
            .is_some()
            .then(|| JobObjects::of(job).result(job.attempts));
        match self.services.store.transition(&update).await {
            Ok(Transition::Applied) => {
                record_finished(job);
                if let Some(webhook) = webhook {
                    webhook.notify(WebhookEvent::Completed, job, None);
                }
                tracing::info!(
                    state = %job.state,
                    faces = job.faces_restored,
                    total_ms = job.timings_ms.total,
                    "job finished"
                );
                Outcome::Done
            }
            Ok(Transition::Missing) => {
                // Deleted, expired or lost with the store while we worked: the result must
                // not outlive the record.
                tracing::info!("job vanished while processing; deleting its result");
                if let Some(key) = &result
                    && self.services.blobs.delete(key).await.is_err()
                {
                    return Outcome::Retry {
                        reason: RetryReason::Blobs,
                    };
                }
                self.after_lost_record(job).await
            }
            Ok(Transition::Rejected { current }) => {
                // Nothing refers to this attempt's result: the owner has its own.
                tracing::info!(%current, "another attempt owns the job, or it is final; keeping that outcome");
                if let Some(key) = &result
                    && let Err(error) = self.services.blobs.delete(key).await
                {
                    tracing::warn!(%error, "cannot delete this attempt's result; it goes at expiry");
                }
                Outcome::Done
            }
            Err(error) => {
                tracing::warn!(%error, "cannot record the outcome");
                Outcome::Retry {
                    reason: RetryReason::Store,
                }
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
