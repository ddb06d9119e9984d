//! A processor with no models: the face pipeline's decode (upload limits, EXIF
//! orientation), its Lanczos upscale of the background, and its encode without metadata
//! — the face pipeline minus the faces. It runs the whole job system where no face
//! models are installed, and in its tests.

use super::{ImageProcessor, ModelInfo, ProcessError, Processed, StageObserver};
use crate::pipeline::{DEFAULT_QUALITY, stages};
use async_trait::async_trait;
use bytes::Bytes;
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::{JobParams, Stage, StageTimings};
use facefix_shared::time::elapsed_ms;
use std::sync::Arc;
use std::time::Instant;

/// The name under which it is listed.
pub const PASSTHROUGH_MODEL: &str = "passthrough";

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct PassThrough {
    /// Input limits, checked on the header before decoding (the API checked them too;
    /// this guards the decoder).
    pub limits: ImageLimits,
}

impl PassThrough {
    pub fn new(limits: ImageLimits) -> Self {
        Self { limits }
    }
}

fn run(
    input: &[u8],
    params: &JobParams,
    limits: &ImageLimits,
    observer: &dyn StageObserver,
) -> Result<Processed, ProcessError> {
    let mut timings = StageTimings::default();
    observer.entered(Stage::Decode);
    let started = Instant::now();
    let decoded = stages::decode(input, limits)?;
    timings.decode = Some(elapsed_ms(started));

    observer.entered(Stage::Paste);
    let started = Instant::now();
    let upscale = u32::from(params.upscale.max(1));
    let (image, _) = stages::paste(&decoded.rgb, Vec::new(), &[], upscale);
    let format = params.format.unwrap_or(decoded.format);
    let alpha = stages::output_alpha(decoded.alpha, format, image.dimensions());
    timings.paste = Some(elapsed_ms(started));

    observer.entered(Stage::Encode);
    let started = Instant::now();
    let bytes = stages::encode(&image, alpha.as_ref(), format, DEFAULT_QUALITY)?;
    timings.encode = Some(elapsed_ms(started));
    Ok(Processed {
        bytes: Bytes::from(bytes),
        format,
        width: image.width(),
        height: image.height(),
        faces_found: 0,
        faces_restored: 0,
        timings,
        notes: vec!["pass-through processor: no face restoration model is installed".to_string()],
    })
}

#[async_trait]
impl ImageProcessor for PassThrough {
    async fn process(
        &self,
        input: Bytes,
        params: &JobParams,
        observer: Arc<dyn StageObserver>,
    ) -> Result<Processed, ProcessError> {
        let params = params.clone();
        let limits = self.limits;
        tokio::task::spawn_blocking(move || run(&input, &params, &limits, observer.as_ref()))
            .await
            .map_err(|e| ProcessError::Transient(format!("processing task failed: {e}")))?
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo {
            name: PASSTHROUGH_MODEL.to_string(),
            description:
                "No restoration: orientation, upscale (Lanczos) and metadata removal only."
                    .to_string(),
            licence: "Apache-2.0".to_string(),
            fidelity: false,
            default: true,
        }]
    }
}
