//! What every handler shares.

use crate::backlog::BacklogMonitor;
use crate::keys::KeyAccess;
use crate::security::OriginPolicy;
use crate::upload::flow::UploadFlow;
use facefix_shared::config::RetentionArgs;
use facefix_shared::connect::Services;
use facefix_shared::intake::UploadLimits;
use facefix_shared::models::{ModelInfo, UpsamplerInfo};
use facefix_shared::webhook::WebhookArgs;
use std::sync::Arc;

/// Shared, immutable after start (the backlog monitor updates itself).
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub limits: UploadLimits,
    /// Upload deadlines and the memory budget all uploads share.
    pub uploads: Arc<UploadFlow>,
    /// Which web origins may call the API besides its own.
    pub origins: Arc<OriginPolicy>,
    pub retention: RetentionArgs,
    pub backlog: Arc<BacklogMonitor>,
    /// Restorers clients may ask for; empty means "any name is passed to the worker".
    pub models: Arc<Vec<ModelInfo>>,
    /// Background upsamplers clients may ask for (`bg_upsampler`), with their limits;
    /// empty means "any name is passed to the worker".
    pub upsamplers: Arc<Vec<UpsamplerInfo>>,
    /// The webhook policy a job's `webhook` must pass.
    pub webhooks: Arc<WebhookArgs>,
    /// API keys: open when no keys file is set.
    pub keys: Arc<KeyAccess>,
}
