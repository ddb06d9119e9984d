//! What one run produced: the encoded image, the faces and their transforms, and where
//! the time went.

use super::detect::DetectorStats;
use super::face::Face;
use super::image::decode::SourceInfo;
use facefix_shared::job::ImageFormat;
use serde::Serialize;

/// Wall time per stage, ms. `restore` includes the tensor pre- and post-processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub decode: f64,
    pub detect: f64,
    pub align: f64,
    pub restore: f64,
    pub paste: f64,
    pub encode: f64,
    pub total: f64,
}

/// A processed image and everything known about how it was made.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Encoded output, no metadata.
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// The upright input's size.
    pub input_width: u32,
    pub input_height: u32,
    pub source: SourceInfo,
    /// Restorer that ran.
    pub restorer: String,
    /// MTCNN's detections before the eye filter and `only_center_face`.
    pub num_detected: usize,
    /// The faces restored and pasted, in paste order, with their transforms.
    pub faces: Vec<Face>,
    pub num_restored: usize,
    pub detector_stats: Option<DetectorStats>,
    pub timings: Timings,
    pub notes: Vec<String>,
}
