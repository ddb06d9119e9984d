//! facefix-worker: the queue consumer and the face pipeline.

pub mod consumer;
pub mod dead_letters;
mod handler;
mod job_metrics;
pub mod pipeline;
pub mod processors;
mod webhooks;
pub mod worker_args;

pub use consumer::Worker;
pub use worker_args::WorkerArgs;
