use super::JobId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of [`JobMessage`]; consumers dead-letter versions
/// they do not know instead of guessing.
pub const MESSAGE_SCHEMA_VERSION: u32 = 1;

/// The queue message: only the id. The job record is the source of truth for the
/// parameters, so a message can never disagree with what the client was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    /// Schema version ([`MESSAGE_SCHEMA_VERSION`]).
    pub v: u32,
    pub job_id: JobId,
    pub enqueued_at: DateTime<Utc>,
}

impl JobMessage {
    pub fn new(job_id: JobId, enqueued_at: DateTime<Utc>) -> Self {
        Self {
            v: MESSAGE_SCHEMA_VERSION,
            job_id,
            enqueued_at,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a message body; unknown schema versions are an error.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        let message: Self = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if message.v != MESSAGE_SCHEMA_VERSION {
            return Err(format!("unknown message schema version {}", message.v));
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let message = JobMessage::new(JobId::new_random(), Utc::now());
        assert_eq!(
            JobMessage::from_json(&message.to_json()).expect("parse"),
            message
        );
        let future = serde_json::json!({"v": 99, "job_id": message.job_id, "enqueued_at": message.enqueued_at});
        assert!(JobMessage::from_json(future.to_string().as_bytes()).is_err());
        assert!(JobMessage::from_json(b"not json").is_err());
    }
}
