//! What every handler shares.

use crate::backlog::BacklogMonitor;
use crate::upload::limits::UploadLimits;
use facefix_shared::config::RetentionArgs;
use facefix_shared::connect::Services;
use std::sync::Arc;

/// Shared, immutable after start (the backlog monitor updates itself).
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub limits: UploadLimits,
    pub retention: RetentionArgs,
    pub backlog: Arc<BacklogMonitor>,
    /// Restorers clients may ask for; empty means "any name is passed to the worker".
    pub models: Arc<Vec<ModelEntry>>,
}

/// A restorer as listed by `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelEntry {
    pub name: String,
    /// One line for people choosing a model.
    pub description: String,
    pub licence: String,
    /// Whether the model takes the `fidelity` option.
    pub fidelity: bool,
    /// The model used when a job names none.
    pub default: bool,
}
