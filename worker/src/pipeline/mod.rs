//! The face pipeline: pure functions on images and tensors (decode → detect → align →
//! restore → paste back → encode). It never knows queues, Redis or S3.
//!
//! Rooms: [`image`] (pixels in, pixels out, no models), [`inference`] (ONNX Runtime,
//! sessions and their threads), [`detect`] (one folder per face detector), [`restore`]
//! (the restorer contract, its tensors and cross-job batching). At this level they are
//! composed: [`engine`] loads the models, [`stages`] adapts the image steps, and
//! [`FacePipeline`] runs a job through them, the image stages on blocking threads and
//! inference on the session threads.

pub mod detect;
pub mod image;
pub mod inference;
pub mod restore;

pub mod engine;
pub mod error;
pub mod face;
pub mod face_pipeline;
pub mod stages;

pub use engine::Engine;
pub use error::PipelineError;
pub use face::Face;
pub use face_pipeline::{FacePipeline, Request, Restored};
pub use inference::model_args::ModelArgs;
