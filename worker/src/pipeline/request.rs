//! What a caller asks of the pipeline for one image, and the limits a pipeline runs under.

use facefix_shared::intake::ImageLimits;
use facefix_shared::job::ImageFormat;

/// JPEG / WebP quality of the output.
pub const DEFAULT_QUALITY: u8 = 95;

/// What a job asks of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Restorer name; `None` = the default.
    pub restorer: Option<String>,
    /// Output scale of the whole image (ignored with `aligned`).
    pub upscale: u32,
    pub aligned: bool,
    pub only_center_face: bool,
    /// Fed to models with a fidelity input (default 0.5).
    pub fidelity: Option<f32>,
    /// Output format; `None` = the input's.
    pub format: Option<ImageFormat>,
    /// Enlarge the background with this upsampler (`bg_upsampler` option value) instead
    /// of Lanczos; ignored with `aligned`.
    pub bg_upsampler: Option<String>,
}

impl Default for Request {
    fn default() -> Self {
        Self {
            restorer: None,
            upscale: 2,
            aligned: false,
            only_center_face: false,
            fidelity: None,
            format: None,
            bg_upsampler: None,
        }
    }
}

/// Limits of one job.
#[derive(Debug, Clone)]
pub struct Limits {
    pub decode: ImageLimits,
    /// Largest width × height of the output.
    pub max_output_pixels: u64,
    pub quality: u8,
}
