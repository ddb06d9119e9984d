//! Delivering one job's calls, in order: sign, POST, and retry with exponential backoff
//! on network errors, 5xx and 429 until the retry budget is spent.

use super::target::{Target, checked_target};
use super::{DELIVERED, FAILED, REFUSED, Webhooks};
use bytes::Bytes;
use chrono::Utc;
use facefix_shared::job::Stage;
use facefix_shared::metrics::metrics;
use facefix_shared::webhook::{WebhookEvent, loggable_host, sign};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Header names; the receiver's verification reads the first two.
pub(crate) const TIMESTAMP_HEADER: &str = "Facefix-Webhook-Timestamp";
pub(crate) const SIGNATURE_HEADER: &str = "Facefix-Webhook-Signature";
/// The same on every try of one call, so a receiver can drop a repeat.
pub(crate) const ID_HEADER: &str = "Facefix-Webhook-Id";
pub(crate) const EVENT_HEADER: &str = "Facefix-Webhook-Event";
pub(crate) const STAGE_HEADER: &str = "Facefix-Webhook-Stage";

/// One call waiting to go out.
pub(crate) struct Call {
    pub event: WebhookEvent,
    pub stage: Option<Stage>,
    /// The job's status JSON at the event.
    pub body: Bytes,
    pub queued: Instant,
}

/// Sends `calls` one after the other until the job lets go of its webhook.
pub(super) async fn in_order(
    webhooks: Arc<Webhooks>,
    url: String,
    mut calls: mpsc::Receiver<Call>,
) {
    let host = loggable_host(&url);
    while let Some(call) = calls.recv().await {
        let event = call.event.as_str();
        let queued = call.queued;
        let outcome = match checked_target(&url, &webhooks.args, &webhooks.policy).await {
            Ok(target) => deliver(&webhooks, &target, call, &host).await,
            Err(refusal) => {
                tracing::warn!(%host, event, %refusal, "webhook call refused");
                REFUSED
            }
        };
        let m = metrics();
        m.webhook_deliveries_total
            .with_label_values(&[event, outcome])
            .inc();
        m.webhook_delivery_duration_seconds
            .with_label_values(&[outcome])
            .observe(queued.elapsed().as_secs_f64());
    }
}

/// Tries `call` until it is delivered, refused by the receiver, or out of retry time.
/// Returns the outcome label.
async fn deliver(webhooks: &Webhooks, target: &Target, call: Call, host: &str) -> &'static str {
    let args = &webhooks.args;
    let Some(secret) = args.secret() else {
        return REFUSED;
    };
    let event = call.event.as_str();
    let id = uuid::Uuid::new_v4().to_string();
    let mut delay = args.webhook_retry_backoff;
    loop {
        metrics()
            .webhook_attempts_total
            .with_label_values(&[event])
            .inc();
        let timestamp = Utc::now().timestamp();
        let mut request = target
            .client
            .post(target.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(secret.expose(), timestamp, &call.body),
            )
            .header(ID_HEADER, &id)
            .header(EVENT_HEADER, event);
        if let Some(stage) = call.stage {
            request = request.header(STAGE_HEADER, stage.as_str());
        }
        let retry_reason = match request.body(call.body.clone()).send().await {
            Ok(response) if response.status().is_success() => return DELIVERED,
            Ok(response)
                if response.status().is_server_error()
                    || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS =>
            {
                format!("status {}", response.status().as_u16())
            }
            Ok(response) => {
                tracing::warn!(
                    host,
                    event,
                    status = response.status().as_u16(),
                    "webhook receiver refused the call"
                );
                return FAILED;
            }
            // Without the URL: its path and query may hold the receiver's secrets.
            Err(error) => format!("{}", error.without_url()),
        };
        if call.queued.elapsed() + delay > args.webhook_retry_for {
            tracing::warn!(host, event, reason = %retry_reason, "webhook call failed; retries spent");
            return FAILED;
        }
        tracing::info!(host, event, reason = %retry_reason, ?delay, "webhook call failed; retrying");
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}
