//! Jobs past the delivery limit land in the dead-letter queue; this marks them failed
//! (`gave-up`) so their owners see a final state instead of waiting forever, and calls
//! their webhook's `completed` like any other final state.

use crate::job_metrics::record_finished;
use crate::webhooks::Webhooks;
use chrono::Utc;
use facefix_shared::connect::Services;
use facefix_shared::job::{JobId, lifecycle};
use facefix_shared::ports::{Delivery, StoreError, Transition};
use facefix_shared::webhook::WebhookEvent;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long to wait before reopening a consumer that could not be opened.
const REOPEN_DELAY: Duration = Duration::from_secs(2);

pub(crate) async fn run_dead_letter_consumer(
    services: Services,
    webhooks: Arc<Webhooks>,
    shutdown: CancellationToken,
) {
    loop {
        let mut deliveries = match services.queue.consume_dead_letters().await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::warn!(%error, "cannot consume the dead-letter queue; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(REOPEN_DELAY) => continue,
                }
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                delivery = deliveries.next() => match delivery {
                    Some(delivery) => settle_dead_letter(&services, &webhooks, delivery).await,
                    None => break,
                },
            }
        }
    }
}

async fn settle_dead_letter(services: &Services, webhooks: &Arc<Webhooks>, delivery: Delivery) {
    let id = delivery.message.job_id;
    let result = match give_up(services, webhooks, id).await {
        Ok(()) => delivery.acker.ack().await,
        Err(error) => {
            tracing::warn!(job_id = %id, %error, "cannot mark a dead-lettered job; retrying later");
            tokio::time::sleep(REOPEN_DELAY).await;
            delivery.acker.requeue().await
        }
    };
    if let Err(error) = result {
        tracing::warn!(job_id = %id, %error, "cannot settle a dead letter");
    }
}

/// Marks `id` failed with `gave-up` unless it already reached a final state (then the
/// guard leaves it alone); the one that stores it calls the job's webhook.
pub(crate) async fn give_up(
    services: &Services,
    webhooks: &Arc<Webhooks>,
    id: JobId,
) -> Result<(), StoreError> {
    let Some(record) = services.store.get(id).await? else {
        return Ok(());
    };
    let update = lifecycle::give_up(record, Utc::now());
    if services.store.transition(&update).await? == Transition::Applied {
        let record = update.next();
        record_finished(record);
        if let Some(webhook) = webhooks.for_job(record) {
            webhook.notify(WebhookEvent::Completed, record, None);
        }
        tracing::warn!(job_id = %id, attempts = record.attempts, "job given up after too many failed deliveries");
    }
    Ok(())
}
