//! `GET /v1/models`: the restorers this deployment offers.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use facefix_shared::models::{ModelInfo, UpsamplerInfo};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelInfo>,
    /// What the `bg_upsampler` option takes besides `none`, with each one's size limit.
    pub bg_upsamplers: Vec<UpsamplerInfo>,
}

/// The configured restorers, the default first, and the background upsamplers.
#[utoipa::path(get, path = "/v1/models", tag = "models", responses((status = 200, body = ModelList)))]
pub async fn list_models(state: web::Data<AppState>) -> HttpResponse {
    let mut models = state.models.as_ref().clone();
    models.sort_by_key(|m| !m.default);
    HttpResponse::Ok().json(ModelList {
        models,
        bg_upsamplers: state.upsamplers.as_ref().clone(),
    })
}
