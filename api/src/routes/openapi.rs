//! `GET /openapi.json`, generated from the handlers and types.

use super::{events, health, jobs, models};
use crate::error::{ErrorBody, ErrorDetail};
use crate::views::{HealthView, JobLinks, JobView};
use actix_web::HttpResponse;
use facefix_shared::ErrorCode;
use facefix_shared::job::{
    ImageFormat, ImageInfo, JobFailure, JobParams, JobRecord, JobState, Stage, StageTimings,
};
use facefix_shared::models::{ModelInfo, UpsamplerInfo};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "facefix",
        description = "Self-hosted face restoration. Upload a photo, watch the job, download the result; everything is destroyed at `expires_at` (15 minutes after upload by default). Errors are `{\"error\": {\"code\", \"message\"}}` with stable codes.",
        license(name = "Apache-2.0")
    ),
    paths(
        jobs::create_job,
        jobs::get_job,
        events::job_events,
        jobs::get_result,
        jobs::get_input,
        jobs::delete_job,
        models::list_models,
        health::healthz,
        health::readyz,
    ),
    components(schemas(
        JobView, JobLinks, JobRecord, JobState, JobParams, JobFailure, ImageInfo, ImageFormat, StageTimings, Stage,
        ErrorBody, ErrorDetail, ErrorCode, HealthView, ModelInfo, UpsamplerInfo, models::ModelList,
    )),
    modifiers(&BearerKeys),
    security((), ("api_key" = [])),
    tags(
        (name = "jobs", description = "Restoration jobs"),
        (name = "models", description = "Available restorers"),
        (name = "operations", description = "Health (Prometheus metrics are on the private metrics port, `--metrics-listen`)"),
    )
)]
pub struct ApiDoc;

/// The optional API keys (`--api-keys-file`): a Bearer token on every `/v1` call when the
/// deployment has keys; none when it has not (hence the empty alternative).
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An API key from the deployment's keys file, when it has one; the events stream also takes it as `?key=` (EventSource cannot send headers)".into(),
        );
        components.add_security_scheme("api_key", SecurityScheme::Http(bearer));
    }
}

/// The OpenAPI 3 document.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
