//! Webhook calls for a job's events: queued per job (so a receiver sees a job's events
//! in order), each delivered on a task of its own job's, so that a slow or failing
//! receiver never holds up the job or any other job's calls.

mod deliver;
mod target;

use deliver::Call;
use facefix_shared::job::{JobRecord, Stage};
use facefix_shared::metrics::metrics;
use facefix_shared::webhook::{AddressPolicy, WebhookArgs, WebhookEvent, loggable_host};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Calls waiting per job; a job makes about ten (one per stage), so only a receiver far
/// behind fills it, and then the newest calls are dropped rather than the job waiting.
const CALLS_PER_JOB: usize = 32;

/// Webhook outcomes: the `outcome` label of `facefix_webhook_deliveries_total`.
pub(crate) const DELIVERED: &str = "delivered";
pub(crate) const FAILED: &str = "failed";
pub(crate) const REFUSED: &str = "refused";
pub(crate) const DROPPED: &str = "dropped";

/// The deployment's webhook settings, shared by every job of a worker.
pub(crate) struct Webhooks {
    args: WebhookArgs,
    policy: AddressPolicy,
}

impl Webhooks {
    pub(crate) fn new(args: WebhookArgs) -> Arc<Self> {
        let deliveries = &metrics().webhook_deliveries_total;
        for event in WebhookEvent::ALL {
            for outcome in [DELIVERED, FAILED, REFUSED, DROPPED] {
                deliveries.with_label_values(&[event.as_str(), outcome]);
            }
        }
        Arc::new(Self {
            policy: args.address_policy(),
            args,
        })
    }

    /// The webhook of one started job, or `None` when it asked for none. Its calls go
    /// out, in order, on a task that outlives the job by as long as retries take.
    pub(crate) fn for_job(self: &Arc<Self>, job: &JobRecord) -> Option<JobWebhook> {
        let url = job.params.webhook.clone()?;
        let (sender, calls) = mpsc::channel(CALLS_PER_JOB);
        let host = loggable_host(&url);
        tokio::spawn(deliver::in_order(self.clone(), url, calls));
        Some(JobWebhook {
            sender,
            host: Arc::from(host),
        })
    }
}

/// One job's webhook: hands calls to its delivery task without ever waiting.
#[derive(Clone)]
pub(crate) struct JobWebhook {
    sender: mpsc::Sender<Call>,
    host: Arc<str>,
}

impl JobWebhook {
    /// Queues a call for `event` with `record` as its body, if the job asked for that event.
    pub(crate) fn notify(&self, event: WebhookEvent, record: &JobRecord, stage: Option<Stage>) {
        if !record.params.wants_webhook(event) {
            return;
        }
        let call = Call {
            event,
            stage,
            body: match serde_json::to_vec(record) {
                Ok(body) => body.into(),
                Err(error) => {
                    tracing::error!(%error, "cannot serialise the job for its webhook");
                    return;
                }
            },
            queued: Instant::now(),
        };
        if self.sender.try_send(call).is_err() {
            tracing::warn!(host = %self.host, event = event.as_str(), "webhook queue full; call dropped");
            metrics()
                .webhook_deliveries_total
                .with_label_values(&[event.as_str(), DROPPED])
                .inc();
        }
    }
}
