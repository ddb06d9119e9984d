//! `/v1/jobs`: create, read, download, delete.

use super::parse_job_id;
use crate::error::{ApiError, ErrorBody};
use crate::keys::{caller, check_budget, may_see};
use crate::state::AppState;
use crate::submit::{self, NewJob, SubmitError};
use crate::upload::body::read_upload;
use crate::upload::probe::probe;
use crate::upload::upsampler::check_bg_upsampler;
use crate::upload::webhook::check_webhook;
use crate::views::JobView;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageInfo, JobId, JobParams, JobRecord, JobState, lifecycle};
use facefix_shared::metrics::metrics;
use facefix_shared::ports::blob::get_or_legacy;
use facefix_shared::ports::{BlobKey, JobObjects};
use facefix_shared::retention::{PurgeError, purge_job};
use futures_util::StreamExt;

/// Upload an image and start a job.
///
/// Answers 202 only once the input is stored, the record written and the queue message
/// confirmed by the broker; on any failure nothing is left behind.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    params(
        ("model" = Option<String>, Query, description = "Restoration model (see GET /v1/models)"),
        ("upscale" = Option<u8>, Query, description = "Output scale 1–4 (default 2)"),
        ("only_center_face" = Option<bool>, Query, description = "Restore only the face nearest the centre"),
        ("aligned" = Option<bool>, Query, description = "The input is an aligned face crop"),
        ("fidelity" = Option<f32>, Query, description = "0–1, for models that take it"),
        ("format" = Option<String>, Query, description = "png, jpeg or webp (default: as the input)"),
        ("bg_upsampler" = Option<String>, Query, description = "none (Lanczos, the default) or a background upsampler from GET /v1/models (e.g. realesrgan); refused with upsampler-too-large over its max_pixels"),
        ("webhook" = Option<String>, Query, description = "URL called (POST, signed: see the README) with the job's status JSON on the events in webhook_events; https unless the deployment allows http"),
        ("webhook_events" = Option<String>, Query, description = "Comma list of started, stage, completed (default: completed)"),
    ),
    request_body(
        description = "multipart/form-data with an `image` field (options may be further fields), or the raw image with Content-Type image/*",
        content(
            ("multipart/form-data"),
            ("image/png"),
            ("image/jpeg"),
            ("image/webp"),
        )
    ),
    responses(
        (status = 202, description = "Accepted; Location points at the job", body = JobView),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 400, description = "Malformed request or option", body = ErrorBody),
        (status = 403, description = "Sent by a page of another origin (origin-not-allowed; see --cors-origins)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within the upload timeout, or came slower than the minimum rate (upload-timeout); nothing was stored", body = ErrorBody),
        (status = 413, description = "Over the byte limit", body = ErrorBody),
        (status = 415, description = "Not JPEG, PNG or WebP", body = ErrorBody),
        (status = 422, description = "Corrupt, over the pixel limits, or over the background upsampler's limit", body = ErrorBody),
        (status = 429, description = "Backlog full (backlog-full), or the API key is over its jobs per minute (rate-limited) or its unfinished jobs (quota-exceeded); see Retry-After", body = ErrorBody),
        (status = 503, description = "A dependency is down, or the server holds as many uploads as it may (busy); see Retry-After; nothing was stored", body = ErrorBody),
    )
)]
pub async fn create_job(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = accept_upload(&state, &request, payload).await;
    if let Err(error) = &result {
        metrics()
            .uploads_rejected_total
            .with_label_values(&[error.code.as_str()])
            .inc();
    }
    result
}

async fn accept_upload(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // A full backlog refuses before a byte is read; the slot itself is taken only once the
    // body is in, so a slow sender never holds one. A key over its budget, likewise.
    let key = caller(request);
    if let Some(key) = &key {
        check_budget(&state.keys, state.services.store.as_ref(), key).await?;
    }
    submit::check_room(&state.backlog)?;
    let upload = read_upload(
        request,
        payload,
        state.limits.max_upload_bytes,
        &state.uploads,
    )
    .await?;
    check_model(state, &upload.params)?;
    check_webhook(&state.webhooks, &upload.params)?;
    let probed = probe(&upload.image, &state.limits)?;
    check_bg_upsampler(&state.upsamplers, &upload.params, &probed)?;
    let input = ImageInfo {
        format: probed.format,
        content_type: probed.format.content_type().to_string(),
        width: probed.width,
        height: probed.height,
        bytes: upload.image.len() as u64,
    };
    let job = NewJob {
        params: upload.params,
        input,
        image: upload.image,
        owner: key.as_ref().map(|key| key.name.clone()),
    };
    let admission = submit::admit(&state.backlog)?;
    let record = submit::submit(&state.services, &state.retention, admission, job).await?;
    // The image's memory is given back only now: it was held until stored.
    drop(upload.claim);
    if let Some(key) = &key
        && let Err(error) = state.keys.limits.add_job(&key.name, record.id).await
    {
        // The job is in: refusing now would leave it behind. It only goes uncounted in
        // the key's quota.
        tracing::warn!(job_id = %record.id, %error, "job not counted in its key's quota");
    }
    let location = format!("/v1/jobs/{}", record.id);
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, location))
        .json(JobView::new(record, state.backlog.ready())))
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::BacklogFull { retry_after } => {
                ApiError::new(error.code(), error.to_string()).retry_after(retry_after)
            }
            SubmitError::Store(error) => error.into(),
            SubmitError::Blob(error) => error.into(),
            SubmitError::Queue(error) => error.into(),
        }
    }
}

impl From<PurgeError> for ApiError {
    fn from(error: PurgeError) -> Self {
        match error {
            PurgeError::Store(error) => error.into(),
            PurgeError::Blob(error) => error.into(),
        }
    }
}

fn check_model(state: &AppState, params: &JobParams) -> Result<(), ApiError> {
    let Some(name) = &params.model else {
        return Ok(());
    };
    if state.models.is_empty() || state.models.iter().any(|m| &m.name == name) {
        return Ok(());
    }
    let known: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
    Err(ApiError::new(
        ErrorCode::UnknownModel,
        format!("unknown model `{name}` (available: {})", known.join(", ")),
    ))
}

/// The job, if it exists and the request's key may see it.
async fn load(
    state: &AppState,
    request: &HttpRequest,
    raw_id: &str,
) -> Result<JobRecord, ApiError> {
    let id = parse_job_id(raw_id)?;
    state
        .services
        .store
        .get(id)
        .await?
        .filter(|record| may_see(request, record))
        .ok_or_else(ApiError::not_found)
}

/// The job record.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 404, description = "Never existed, deleted or expired", body = ErrorBody),
    )
)]
pub async fn get_job(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = load(&state, &request, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(JobView::new(record, state.backlog.ready())))
}

/// Streams an object of a job with its content type. `legacy` is its name for a job an
/// older version stored (upgrade path).
async fn stream_blob(
    state: &AppState,
    key: BlobKey,
    legacy: BlobKey,
    file_name: String,
) -> Result<HttpResponse, ApiError> {
    let blob = get_or_legacy(state.services.blobs.as_ref(), &key, &legacy)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "the image is gone (deleted or expired)",
            )
        })?;
    let body = blob
        .body
        .map(|chunk| chunk.map_err(actix_web::error::ErrorServiceUnavailable));
    Ok(HttpResponse::Ok()
        .content_type(blob.content_type)
        .insert_header((header::CONTENT_LENGTH, blob.length))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file_name}\""),
        ))
        .streaming(body))
}

/// A download name derived from the id only: user file names are never kept.
fn file_name(id: JobId, kind: &str, extension: &str) -> String {
    let short: String = id.to_string().chars().take(8).collect();
    format!("facefix-{short}-{kind}.{extension}")
}

/// The restored image.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/result",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The restored image", content(("image/png"), ("image/jpeg"), ("image/webp"))),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 404, description = "No such job, or another API key's", body = ErrorBody),
        (status = 409, description = "Not succeeded (yet)", body = ErrorBody),
    )
)]
pub async fn get_result(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = load(&state, &request, &id).await?;
    if record.state != JobState::Succeeded {
        let message = match record.state {
            JobState::Failed => "the job failed; there is no result".to_string(),
            other => format!("the job is {other}; the result is not ready"),
        };
        return Err(ApiError::new(ErrorCode::NotReady, message));
    }
    let extension = record
        .output
        .as_ref()
        .map(|o| o.format.extension())
        .unwrap_or("bin");
    // The attempt that succeeded is the last one started: nothing starts a final job.
    stream_blob(
        &state,
        JobObjects::of(&record).result(record.attempts),
        BlobKey::legacy_result(record.id),
        file_name(record.id, "restored", extension),
    )
    .await
}

/// The uploaded image (for before/after views).
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/input",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The uploaded image", content(("image/png"), ("image/jpeg"), ("image/webp"))),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 404, description = "No such job, or another API key's", body = ErrorBody),
    )
)]
pub async fn get_input(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = load(&state, &request, &id).await?;
    stream_blob(
        &state,
        JobObjects::of(&record).input(),
        BlobKey::legacy_input(record.id),
        file_name(record.id, "input", record.input.format.extension()),
    )
    .await
}

/// Deletes the job now: its images and its record. Idempotent.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 204, description = "Deleted (or already gone)"),
        (status = 401, description = "With API keys on (--api-keys-file): no key, or one not in force (unauthorized)", body = ErrorBody),
        (status = 503, description = "A dependency is down; retry", body = ErrorBody),
    )
)]
pub async fn delete_job(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_job_id(&id)?;
    // The record says where the objects are; without one, nothing of the job is known to
    // exist (the reconciliation pass deletes anything left once due).
    let record = state.services.store.get(id).await?;
    if record
        .as_ref()
        .is_some_and(|record| !may_see(&request, record))
    {
        return Err(ApiError::not_found());
    }
    purge_job(
        state.services.store.as_ref(),
        state.services.blobs.as_ref(),
        lifecycle::delete(id),
        record.as_ref().map(JobObjects::of),
    )
    .await?;
    tracing::info!(job_id = %id, "job deleted by request");
    Ok(HttpResponse::NoContent().finish())
}
