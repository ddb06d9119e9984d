//! ONNX Runtime plumbing shared by the detector and the restorers: finding and loading
//! the library ([`runtime`]), sessions and their tensors ([`session`]), the threads that
//! own sessions ([`session_threads`]), the TensorRT provider ([`tensorrt`]) and the model
//! flags ([`model_args`]).

pub mod model_args;
pub mod runtime;
pub mod session;
pub mod session_threads;
pub mod tensorrt;
