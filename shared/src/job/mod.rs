//! The job model: ids, states, records, queue messages and events.

mod event;
mod id;
mod message;
mod params;
mod record;
mod state;

pub use event::{JobEvent, Stage};
pub use id::{InvalidJobId, JobId};
pub use message::{JobMessage, MESSAGE_SCHEMA_VERSION};
pub use params::{ImageFormat, JobParams, MAX_UPSCALE};
pub use record::{ImageInfo, JobFailure, JobRecord, StageTimings};
pub use state::JobState;
