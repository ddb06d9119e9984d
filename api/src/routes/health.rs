//! Liveness, readiness and metrics endpoints.

use crate::state::AppState;
use crate::views::HealthView;
use actix_web::{HttpResponse, web};
use facefix_shared::connect::Services;
use facefix_shared::metrics::metrics;
use std::collections::BTreeMap;
use std::time::Duration;

/// A dependency that does not answer within this is not ready.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthView)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthView {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

async fn timed<E: std::fmt::Display>(
    check: impl std::future::Future<Output = Result<(), E>>,
) -> String {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
    }
}

/// Checks the queue, the job store and the object store together.
pub async fn check_services(services: &Services) -> BTreeMap<&'static str, String> {
    let (queue, store, blobs) = tokio::join!(
        timed(services.queue.check()),
        timed(services.store.check()),
        timed(services.blobs.check()),
    );
    BTreeMap::from([("queue", queue), ("store", store), ("blobs", blobs)])
}

/// Answers 200 when every check says "ok", else 503 with the checks.
pub fn readiness_response(checks: BTreeMap<&'static str, String>) -> HttpResponse {
    let ready = checks.values().all(|v| v == "ok");
    let view = HealthView {
        status: if ready { "ok" } else { "unavailable" },
        checks,
    };
    if ready {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::ServiceUnavailable().json(view)
    }
}

/// Readiness: the queue, the job store and the object store answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = HealthView), (status = 503, description = "A dependency is down", body = HealthView))
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    readiness_response(check_services(&state.services).await)
}

/// Prometheus metrics, on the probe server only (never on the API's public port).
pub async fn metrics_text() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics().render())
}
