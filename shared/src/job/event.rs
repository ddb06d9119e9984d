use super::{JobId, JobRecord, JobState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A processing stage, reported live while a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Fetch,
    Decode,
    Detect,
    Align,
    Restore,
    Paste,
    Encode,
    Store,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::Decode => "decode",
            Self::Detect => "detect",
            Self::Align => "align",
            Self::Restore => "restore",
            Self::Paste => "paste",
            Self::Encode => "encode",
            Self::Store => "store",
        }
    }
}

/// What is published on a job's event channel (and streamed by SSE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JobEvent {
    /// The job changed state; the record is the new one.
    State { record: Box<JobRecord> },
    /// The job entered a processing stage.
    Stage { job_id: JobId, stage: Stage },
    /// The job and its data are gone (`deleted` or `expired`).
    Gone { job_id: JobId, state: JobState },
}

impl JobEvent {
    /// The job changed state: `record` is the new one.
    pub fn state_of(record: &JobRecord) -> Self {
        Self::State {
            record: Box::new(record.clone()),
        }
    }

    pub fn job_id(&self) -> JobId {
        match self {
            Self::State { record } => record.id,
            Self::Stage { job_id, .. } | Self::Gone { job_id, .. } => *job_id,
        }
    }

    /// True when no event can follow this one.
    pub fn is_final(&self) -> bool {
        match self {
            Self::State { record } => record.state.is_final(),
            Self::Stage { .. } => false,
            Self::Gone { .. } => true,
        }
    }
}
