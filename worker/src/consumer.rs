//! The worker loop: consume with a prefetch equal to the in-flight budget, handle each
//! delivery on its own task, and drain on shutdown.

use crate::dead_letters::run_dead_letter_consumer;
use crate::handler::JobHandler;
use crate::processors::ImageProcessor;
use crate::worker_args::WorkerArgs;
use facefix_shared::connect::Services;
use facefix_shared::ports::QueueError;
use facefix_shared::webhook::WebhookArgs;
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A worker: the services, how to consume, and the handler each job goes to.
pub struct Worker {
    services: Services,
    args: WorkerArgs,
    worker_id: String,
    handler: Arc<JobHandler>,
}

impl Worker {
    /// A worker that sends no webhooks (a job asking for one has its calls refused).
    pub fn new(
        services: Services,
        processor: Arc<dyn ImageProcessor>,
        args: WorkerArgs,
    ) -> Arc<Self> {
        Self::with_webhooks(services, processor, args, WebhookArgs::default())
    }

    /// A worker that calls jobs' webhooks under the operator's `webhooks` settings.
    pub fn with_webhooks(
        services: Services,
        processor: Arc<dyn ImageProcessor>,
        args: WorkerArgs,
        webhooks: WebhookArgs,
    ) -> Arc<Self> {
        let worker_id = args.resolved_worker_id();
        let handler = Arc::new(JobHandler::new(
            services.clone(),
            processor,
            args.clone(),
            worker_id.clone(),
            webhooks,
        ));
        Arc::new(Self {
            services,
            args,
            worker_id,
            handler,
        })
    }

    /// Consumes until `shutdown` is cancelled, then stops consuming, lets in-flight jobs
    /// finish within the drain budget, and requeues those that do not.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> Result<(), QueueError> {
        let mut deliveries = self.services.queue.consume(self.args.concurrency).await?;
        let dead_letters = tokio::spawn(run_dead_letter_consumer(
            self.services.clone(),
            self.handler.webhooks(),
            shutdown.child_token(),
        ));
        let interrupt = CancellationToken::new();
        let mut in_flight = JoinSet::new();
        tracing::info!(worker_id = %self.worker_id, concurrency = self.args.concurrency, "worker consuming");
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                delivery = deliveries.next() => match delivery {
                    Some(delivery) => {
                        in_flight.spawn(self.handler.clone().handle(delivery, interrupt.clone()));
                    }
                    None => {
                        tracing::warn!("the queue closed the consumer; stopping");
                        break;
                    }
                },
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(error) = joined {
                        tracing::error!(%error, "a job task failed");
                    }
                }
            }
        }
        // Stop taking new work first; deliveries already handed out stay ours to settle.
        drop(deliveries);
        self.drain(in_flight, interrupt).await;
        let _ = dead_letters.await;
        tracing::info!("worker stopped");
        Ok(())
    }

    async fn drain(&self, mut in_flight: JoinSet<()>, interrupt: CancellationToken) {
        if in_flight.is_empty() {
            return;
        }
        tracing::info!(jobs = in_flight.len(), budget = ?self.args.drain_timeout, "draining in-flight jobs");
        let finish_all = async { while in_flight.join_next().await.is_some() {} };
        if tokio::time::timeout(self.args.drain_timeout, finish_all)
            .await
            .is_err()
        {
            // Out of time: each remaining job requeues itself for another worker.
            interrupt.cancel();
            while in_flight.join_next().await.is_some() {}
        }
    }
}
