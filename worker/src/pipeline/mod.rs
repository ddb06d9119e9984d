//! The face pipeline: pure functions on images and tensors (decode → detect → align →
//! restore → paste back → encode). It never knows queues, Redis, S3 or the job loop: the
//! job loop's adapter is `crate::processors`.
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
pub mod progress;
pub mod request;
pub mod restored;
pub mod stages;

pub use engine::Engine;
pub use error::PipelineError;
pub use face::Face;
pub use face_pipeline::FacePipeline;
pub use inference::model_args::ModelArgs;
pub use progress::{NoStageObserver, StageObserver};
pub use request::{DEFAULT_QUALITY, Limits, Request};
pub use restored::{Restored, Timings};
