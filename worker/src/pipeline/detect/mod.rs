//! Face detection. One folder per detector; the pipeline sees [`Mtcnn`] through the
//! [`crate::pipeline::engine::Engine`] that loads it.

pub mod mtcnn;

pub use mtcnn::{DetectorStats, Mtcnn, MtcnnNets};
