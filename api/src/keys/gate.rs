//! Where keys are asked for: the middleware in front of `/v1`, ownership of jobs, and a
//! key's budget at submit.

use super::access::KeyAccess;
use super::ring::ApiKey;
use crate::error::ApiError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use facefix_shared::ErrorCode;
use facefix_shared::job::{JobId, JobRecord};
use facefix_shared::key_limits::Take;
use facefix_shared::metrics::metrics;
use facefix_shared::ports::JobStore;
use std::sync::Arc;

/// The metric's key label for a request without a known key.
const NO_KEY: &str = "-";

/// The key a request came with, once the middleware took it.
#[derive(Clone)]
struct Caller(Arc<ApiKey>);

fn count(key: &str, outcome: &str) {
    metrics()
        .api_key_requests_total
        .with_label_values(&[key, outcome])
        .inc();
}

fn bearer(request: &ServiceRequest) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// `?key=` of the events stream only: a browser's EventSource cannot send headers. Any
/// other route takes the key from `Authorization` alone, so keys stay out of URLs (and
/// proxies' logs) wherever a client can help it.
fn events_query_key(request: &ServiceRequest) -> Option<String> {
    if !request.path().ends_with("/events") {
        return None;
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == "key").then_some(value))
}

/// Answers a `/v1` request without a key in force with 401 `unauthorized`, before any
/// handler sees it; passes the key on to the handlers otherwise. Open when no keys file is
/// set; the page, its files and the probes never need a key.
pub async fn require_key(
    access: Arc<KeyAccess>,
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !access.required() || !request.path().starts_with("/v1/") {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let key = bearer(&request)
        .or_else(|| events_query_key(&request))
        .and_then(|presented| access.identify(&presented));
    let Some(key) = key else {
        count(NO_KEY, "unauthorized");
        let error = ApiError::new(
            ErrorCode::Unauthorized,
            "this service needs an API key: send `Authorization: Bearer <key>`",
        );
        let mut response = actix_web::ResponseError::error_response(&error);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return Ok(request.into_response(response).map_into_right_body());
    };
    count(&key.name, "allowed");
    request.extensions_mut().insert(Caller(key));
    Ok(next.call(request).await?.map_into_left_body())
}

/// The key of the request; `None` when keys are off.
pub fn caller(request: &HttpRequest) -> Option<Arc<ApiKey>> {
    request.extensions().get::<Caller>().map(|c| c.0.clone())
}

/// Whether the request's key may see `record`: the key that created it, or anyone when
/// keys are off. Another key's job is answered as missing (404), not forbidden, so job ids
/// cannot be probed.
pub fn may_see(request: &HttpRequest, record: &JobRecord) -> bool {
    match caller(request) {
        None => true,
        Some(key) => record.owner.as_deref() == Some(key.name.as_str()),
    }
}

/// Checks `key`'s budget before an upload is read: its unfinished jobs against its quota,
/// then a token of its rate. Jobs of the key that are final or gone are forgotten on the
/// way. Two uploads checked at the same moment may both pass with one slot left: the quota
/// bounds a key's load, it is not a lock.
pub async fn check_budget(
    access: &KeyAccess,
    store: &dyn JobStore,
    key: &ApiKey,
) -> Result<(), ApiError> {
    let limits = access.limits.as_ref();
    let mut unfinished = 0u32;
    let mut done: Vec<JobId> = Vec::new();
    for id in limits.jobs(&key.name).await? {
        match store.get(id).await? {
            Some(record) if !record.state.is_final() => unfinished += 1,
            _ => done.push(id),
        }
    }
    limits.forget_jobs(&key.name, &done).await?;
    if unfinished >= key.max_concurrent {
        count(&key.name, "quota-exceeded");
        return Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "this key has {unfinished} unfinished jobs, as many as it may (at most {}); submit again once one has finished",
                key.max_concurrent
            ),
        ));
    }
    match limits.take(&key.name, key.jobs_per_minute).await? {
        Take::Taken => Ok(()),
        Take::Empty { retry_after } => {
            count(&key.name, "rate-limited");
            Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "this key may submit {} jobs a minute; try again later",
                    key.jobs_per_minute
                ),
            )
            // Whole seconds, rounded up: a client waiting what it is told then finds a token.
            .retry_after(std::time::Duration::from_secs(
                retry_after.as_secs_f64().ceil() as u64,
            )))
        }
    }
}
