//! `GET /v1/jobs/{id}/events`: Server-Sent Events, one per state change, closing after a
//! final state.

use super::parse_job_id;
use crate::error::{ApiError, ErrorBody};
use crate::keys::may_see;
use crate::state::AppState;
use crate::views::JobView;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use facefix_shared::job::{JobEvent, JobId, JobRecord, JobState};
use facefix_shared::ports::EventStream;
use futures_util::StreamExt;
use std::time::Duration;

/// The stream re-reads the record this often, so a missed pub/sub message (a Redis
/// reconnect) delays an update by at most this much instead of forever. When nothing
/// changed it sends a comment line, which also keeps proxies from closing an idle stream.
const RESYNC: Duration = Duration::from_secs(3);

fn sse_frame(event: &str, data: &impl serde::Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_string());
    Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

fn state_frame(record: &JobRecord, backlog: Option<u64>) -> Bytes {
    sse_frame(
        record.state.as_str(),
        &JobView::new(record.clone(), backlog),
    )
}

fn gone_frame(id: JobId, state: JobState) -> Bytes {
    sse_frame(
        state.as_str(),
        &serde_json::json!({ "id": id, "state": state }),
    )
}

/// Live job status.
///
/// Events are named after the state (`queued`, `processing`, `succeeded`, `failed`,
/// `deleted`, `expired`) with the job as data; `stage` events (`{"job_id", "stage"}`) report
/// progress while processing. The first event is the current state; the stream closes after
/// a final one.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "text/event-stream of job events", content_type = "text/event-stream"),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 404, description = "No such job, or another API key's", body = ErrorBody),
    )
)]
pub async fn job_events(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_job_id(&id)?;
    // Subscribe before reading, so a change between the two is not lost.
    let events = state.services.store.subscribe(id).await?;
    let record = state
        .services
        .store
        .get(id)
        .await?
        .filter(|record| may_see(&request, record))
        .ok_or_else(ApiError::not_found)?;
    let stream = SseStream {
        state: state.into_inner(),
        id,
        last: Some(record),
        events,
        pending: Vec::new(),
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache, no-store"))
        // nginx and similar buffer responses unless told not to; SSE must flow at once.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream.into_stream()))
}

struct SseStream {
    state: std::sync::Arc<AppState>,
    id: JobId,
    /// The last record sent (the first frame sends the current one).
    last: Option<JobRecord>,
    events: EventStream,
    pending: Vec<Bytes>,
    done: bool,
}

impl SseStream {
    fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
        let first = self
            .last
            .as_ref()
            .map(|r| state_frame(r, self.state.backlog.ready()));
        let done = self.last.as_ref().is_some_and(|r| r.state.is_final());
        let start = SseStream {
            pending: first.into_iter().collect(),
            done,
            ..self
        };
        futures_util::stream::unfold(start, |mut sse| async move {
            loop {
                if !sse.pending.is_empty() {
                    let frame = sse.pending.remove(0);
                    return Some((Ok(frame), sse));
                }
                if sse.done {
                    return None;
                }
                sse.wait_for_next().await;
            }
        })
    }

    /// Waits for the next event, resync tick or keepalive, and queues what to send.
    async fn wait_for_next(&mut self) {
        tokio::select! {
            event = self.events.next() => match event {
                Some(event) => self.on_event(event),
                // The subscription ended (store shutting down): resync and end if final.
                None => {
                    self.resync().await;
                    self.done = true;
                }
            },
            _ = tokio::time::sleep(RESYNC) => self.resync().await,
        }
    }

    fn on_event(&mut self, event: JobEvent) {
        match event {
            JobEvent::State { record } => self.on_record(*record),
            JobEvent::Stage { job_id, stage } => {
                self.pending.push(sse_frame(
                    "stage",
                    &serde_json::json!({ "job_id": job_id, "stage": stage }),
                ));
            }
            JobEvent::Gone { job_id, state } => {
                self.pending.push(gone_frame(job_id, state));
                self.done = true;
            }
        }
    }

    fn on_record(&mut self, record: JobRecord) {
        let changed = self
            .last
            .as_ref()
            .is_none_or(|last| last.state != record.state || last.attempts != record.attempts);
        if changed {
            self.pending
                .push(state_frame(&record, self.state.backlog.ready()));
        }
        self.done = record.state.is_final();
        self.last = Some(record);
    }

    async fn resync(&mut self) {
        match self.state.services.store.get(self.id).await {
            Ok(Some(record)) => self.on_record(record),
            Ok(None) => {
                // The Gone event was missed: tell deletion from expiry by the clock.
                let expired = self
                    .last
                    .as_ref()
                    .is_some_and(|r| chrono::Utc::now() >= r.expires_at);
                let state = if expired {
                    JobState::Expired
                } else {
                    JobState::Deleted
                };
                self.pending.push(gone_frame(self.id, state));
                self.done = true;
            }
            Err(error) => {
                tracing::debug!(job_id = %self.id, %error, "SSE resync failed; keeping the stream open");
                self.pending.push(Bytes::from_static(b": keepalive\n\n"));
            }
        }
        if self.pending.is_empty() {
            self.pending.push(Bytes::from_static(b": keepalive\n\n"));
        }
    }
}
