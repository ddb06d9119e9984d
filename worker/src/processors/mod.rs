//! The seam between the job loop (queues, stores) and the image work.
//!
//! The job loop only knows [`ImageProcessor`]: bytes and parameters in, an encoded image,
//! counts and stage timings out. The face pipeline implements it (`face.rs`, the only
//! place that maps job parameters and pipeline errors onto the job loop's); so does the
//! [`PassThrough`] processor used where no models are installed.

mod face;
pub mod passthrough;

pub use crate::pipeline::progress::{NoStageObserver, StageObserver};
pub use facefix_shared::models::{ModelInfo, UpsamplerInfo};
pub use passthrough::{PASSTHROUGH_MODEL, PassThrough};

use async_trait::async_trait;
use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageFormat, JobParams, StageTimings};

/// A finished image.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The encoded output, with no metadata at all.
    pub bytes: Bytes,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Faces found (after the eye-distance filter and `only_center_face`).
    pub faces_found: u32,
    /// Faces restored and pasted back.
    pub faces_restored: u32,
    /// Decode … encode timings (the job loop adds fetch, store and total).
    pub timings: StageTimings,
    /// What was changed from the request (e.g. a clamped upscale), for the job record.
    pub notes: Vec<String>,
}

/// Why processing failed, decided where it failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The input (or the request on it) can never succeed: record `failed`, ack, never retry.
    #[error("{message}")]
    Permanent { code: ErrorCode, message: String },
    /// Something that may work next time (out of memory, device busy): requeue.
    #[error("{0}")]
    Transient(String),
}

impl ProcessError {
    pub fn permanent(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Permanent {
            code,
            message: message.into(),
        }
    }
}

/// Turns an uploaded image into a restored one. Implementations run heavy work off the
/// async threads (dedicated threads or `spawn_blocking`): `process` must never block.
#[async_trait]
pub trait ImageProcessor: Send + Sync + 'static {
    async fn process(
        &self,
        input: Bytes,
        params: &JobParams,
        observer: std::sync::Arc<dyn StageObserver>,
    ) -> Result<Processed, ProcessError>;

    /// Restorer names this processor accepts in `JobParams::model` (the first is the default).
    fn models(&self) -> Vec<ModelInfo>;

    /// Background upsamplers this processor accepts in `JobParams::bg_upsampler`.
    fn upsamplers(&self) -> Vec<UpsamplerInfo> {
        Vec::new()
    }
}
