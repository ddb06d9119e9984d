//! The job as accepted, as the queue message carries it.

use super::{ImageInfo, JobParams, JobRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a worker needs to recreate a job's record when the job store lost it: everything
/// the record held when the job was accepted, except the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSeed {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub params: JobParams,
    pub input: ImageInfo,
}

impl JobSeed {
    pub fn of(record: &JobRecord) -> Self {
        Self {
            created_at: record.created_at,
            expires_at: record.expires_at,
            params: record.params.clone(),
            input: record.input.clone(),
        }
    }
}
