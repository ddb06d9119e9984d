//! The face pipeline: pure functions on images and tensors (decode → detect → align →
//! restore → paste back → encode). It never knows queues, Redis or S3.
//!
//! Inference runs on dedicated session threads behind bounded channels ([`detect`],
//! [`restore`]); the image stages run on blocking threads; [`FacePipeline`] ties them
//! together behind [`crate::processor::ImageProcessor`].

pub mod align;
pub mod cv;
pub mod decode;
pub mod encode;
pub mod paste;

pub mod detect;
pub mod engine;
pub mod error;
pub mod face;
pub mod face_pipeline;
pub mod model_args;
pub mod restore;
pub mod runtime;
pub mod session;
pub mod session_threads;
pub mod stages;

pub use engine::Engine;
pub use error::PipelineError;
pub use face::Face;
pub use face_pipeline::{FacePipeline, Request, Restored};
pub use model_args::ModelArgs;
