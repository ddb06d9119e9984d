//! Face detection. One folder per detector; the pipeline sees [`Mtcnn`] through the
//! [`crate::pipeline::engine::Engine`] that loads it.

pub mod mtcnn;
pub mod working_resolution;

pub use mtcnn::{DetectorStats, Mtcnn, MtcnnNets};
pub use working_resolution::{Refinement, WorkingResolution, detect_at_working_resolution};
