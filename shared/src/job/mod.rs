//! The job model: ids, states, records, queue messages and events, and the lifecycle
//! that owns every change of state.

mod event;
mod id;
pub mod lifecycle;
mod message;
mod params;
mod record;
mod state;

pub use event::{JobEvent, Stage};
pub use id::{InvalidJobId, JobId};
pub use lifecycle::{GuardedUpdate, JobOutput, PurgeReason, Removal};
pub use message::{JobMessage, MESSAGE_SCHEMA_VERSION};
pub use params::{ImageFormat, JobParams, MAX_UPSCALE};
pub use record::{ImageInfo, JobFailure, JobRecord, StageTimings};
pub use state::JobState;
