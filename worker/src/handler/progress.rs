//! Live progress: stage changes published as job events.

use crate::processors::StageObserver;
use crate::webhooks::JobWebhook;
use facefix_shared::job::{JobEvent, JobId, JobRecord, Stage};
use facefix_shared::ports::JobStore;
use facefix_shared::webhook::WebhookEvent;
use std::sync::Arc;

/// Publishes stage changes as events, from whichever thread the processor runs on.
pub(super) struct StagePublisher {
    pub store: Arc<dyn JobStore>,
    pub job_id: JobId,
    pub runtime: tokio::runtime::Handle,
    /// The job's webhook and the record its `stage` calls carry (the job as it started).
    pub webhook: Option<(JobWebhook, JobRecord)>,
}

impl StageObserver for StagePublisher {
    fn entered(&self, stage: Stage) {
        if let Some((webhook, record)) = &self.webhook {
            webhook.notify(WebhookEvent::Stage, record, Some(stage));
        }
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
