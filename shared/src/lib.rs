//! facefix-shared: the job model, configuration, the three ports (`JobQueue`, `JobStore`,
//! `BlobStore`) with their real and embedded adapters, retention (the sweeper), metrics
//! and telemetry. It knows nothing of HTTP or tensors.

pub mod blob;
pub mod config;
pub mod connect;
#[cfg(feature = "testing")]
pub mod contract;
mod error_code;
pub mod events;
pub mod intake;
pub mod job;
pub mod key_limits;
pub mod metrics;
pub mod models;
pub mod ports;
pub mod queue;
pub mod redact;
pub mod retention;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod webhook;

pub use error_code::ErrorCode;
