//! Face detection. One folder per detector; the pipeline calls [`Detector::detect`] on
//! the one the [`crate::pipeline::engine::Engine`] loaded (`--detector`).

mod contract;
pub mod mtcnn;
pub mod retinaface;
pub mod working_resolution;

pub use crate::pipeline::inference::model_args::DetectorKind;
pub use working_resolution::{Refinement, WorkingResolution, detect_at_working_resolution};

pub use mtcnn::{Mtcnn, MtcnnNets, MtcnnStats};
pub use retinaface::{RetinaFace, RetinaFaceSession, RetinaFaceStats};

use crate::pipeline::error::PipelineError;
use crate::pipeline::face::Face;
use image::RgbImage;
use serde::Serialize;

/// The loaded detector.
#[derive(Clone)]
pub enum Detector {
    Mtcnn(Mtcnn),
    RetinaFace(RetinaFace),
}

/// What the detector did, for the JSON metadata. Untagged: an MTCNN job's
/// `detector_stats` keep exactly the fields they always had.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DetectorStats {
    Mtcnn(MtcnnStats),
    RetinaFace(RetinaFaceStats),
}

impl DetectorStats {
    /// Set when detection ran on a shrunk copy.
    pub fn working_resolution(&self) -> Option<&WorkingResolution> {
        match self {
            Self::Mtcnn(s) => s.working_resolution.as_ref(),
            Self::RetinaFace(s) => s.working_resolution.as_ref(),
        }
    }

    /// Records that detection ran on a shrunk copy.
    pub fn set_working_resolution(&mut self, working: Option<WorkingResolution>) {
        match self {
            Self::Mtcnn(s) => s.working_resolution = working,
            Self::RetinaFace(s) => s.working_resolution = working,
        }
    }
}

impl Detector {
    /// Faces best first, in source pixels. Blocks: call from a blocking thread.
    pub fn detect(&self, img: &RgbImage) -> Result<(Vec<Face>, DetectorStats), PipelineError> {
        match self {
            Self::Mtcnn(d) => d.detect(img).map(|(f, s)| (f, DetectorStats::Mtcnn(s))),
            Self::RetinaFace(d) => d
                .detect(img)
                .map(|(f, s)| (f, DetectorStats::RetinaFace(s))),
        }
    }

    /// Re-measures faces mapped back from a shrunk copy on the full-resolution image
    /// (MTCNN: ONet on full-resolution crops; RetinaFace: a second pass on a window
    /// around each face).
    pub fn refine(&self, img: &RgbImage, faces: Vec<Face>) -> Result<Refinement, PipelineError> {
        match self {
            Self::Mtcnn(d) => d.refine(img, faces),
            Self::RetinaFace(d) => d.refine(img, faces),
        }
    }

    pub fn kind(&self) -> DetectorKind {
        match self {
            Self::Mtcnn(_) => DetectorKind::Mtcnn,
            Self::RetinaFace(_) => DetectorKind::RetinaFace,
        }
    }

    /// The MTCNN cascade, when that is the detector (its tests look inside).
    pub fn as_mtcnn(&self) -> Option<&Mtcnn> {
        match self {
            Self::Mtcnn(d) => Some(d),
            Self::RetinaFace(_) => None,
        }
    }

    /// RetinaFace, when that is the detector.
    pub fn as_retinaface(&self) -> Option<&RetinaFace> {
        match self {
            Self::RetinaFace(d) => Some(d),
            Self::Mtcnn(_) => None,
        }
    }
}
