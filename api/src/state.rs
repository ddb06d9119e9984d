//! What every handler shares.

use crate::backlog::BacklogMonitor;
use facefix_shared::config::RetentionArgs;
use facefix_shared::connect::Services;
use facefix_shared::intake::UploadLimits;
use facefix_shared::models::{ModelInfo, UpsamplerInfo};
use std::sync::Arc;

/// Shared, immutable after start (the backlog monitor updates itself).
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub limits: UploadLimits,
    pub retention: RetentionArgs,
    pub backlog: Arc<BacklogMonitor>,
    /// Restorers clients may ask for; empty means "any name is passed to the worker".
    pub models: Arc<Vec<ModelInfo>>,
    /// Background upsamplers clients may ask for (`bg_upsampler`), with their limits;
    /// empty means "any name is passed to the worker".
    pub upsamplers: Arc<Vec<UpsamplerInfo>>,
}
