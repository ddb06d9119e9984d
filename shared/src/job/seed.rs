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
    /// The API key's name that created the job (only its key may read it): a recreated
    /// record must keep it. Absent in messages older than API keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl JobSeed {
    pub fn of(record: &JobRecord) -> Self {
        Self {
            created_at: record.created_at,
            expires_at: record.expires_at,
            params: record.params.clone(),
            input: record.input.clone(),
            owner: record.owner.clone(),
        }
    }
}
