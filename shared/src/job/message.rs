use super::{JobId, JobRecord, JobSeed};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of [`JobMessage`]; consumers dead-letter versions
/// they do not know instead of guessing. Version 2 added [`JobMessage::job`].
pub const MESSAGE_SCHEMA_VERSION: u32 = 2;
/// The oldest version this build still reads (version 1: the id only).
const OLDEST_READABLE_VERSION: u32 = 1;

/// The queue message. The job record is the source of truth for the job; the message also
/// carries the job as accepted ([`JobSeed`]), so that losing the job store does not lose
/// accepted jobs: a worker that finds no record recreates it from the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMessage {
    /// Schema version ([`MESSAGE_SCHEMA_VERSION`]).
    pub v: u32,
    pub job_id: JobId,
    pub enqueued_at: DateTime<Utc>,
    /// The job as accepted (version 2); absent in version 1 messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobSeed>,
}

impl JobMessage {
    /// A message naming the job only: a worker cannot recreate the job from it.
    pub fn new(job_id: JobId, enqueued_at: DateTime<Utc>) -> Self {
        Self {
            v: MESSAGE_SCHEMA_VERSION,
            job_id,
            enqueued_at,
            job: None,
        }
    }

    /// The message for an accepted job, carrying what recreates it.
    pub fn for_job(record: &JobRecord, enqueued_at: DateTime<Utc>) -> Self {
        Self {
            job: Some(JobSeed::of(record)),
            ..Self::new(record.id, enqueued_at)
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a message body; unknown schema versions are an error.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        let message: Self = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if !(OLDEST_READABLE_VERSION..=MESSAGE_SCHEMA_VERSION).contains(&message.v) {
            return Err(format!("unknown message schema version {}", message.v));
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{ImageFormat, ImageInfo, JobParams, lifecycle};

    fn record() -> JobRecord {
        let input = ImageInfo {
            format: ImageFormat::Jpeg,
            content_type: "image/jpeg".into(),
            width: 640,
            height: 480,
            bytes: 54_321,
        };
        let params = JobParams {
            upscale: 3,
            fidelity: Some(0.25),
            ..JobParams::default()
        };
        let now = Utc::now();
        lifecycle::create(
            JobId::new_random(),
            params,
            input,
            now,
            std::time::Duration::from_secs(900),
        )
    }

    #[test]
    fn round_trip_and_version_check() {
        let message = JobMessage::new(JobId::new_random(), Utc::now());
        assert_eq!(
            JobMessage::from_json(&message.to_json()).expect("parse"),
            message
        );
        let future = serde_json::json!({"v": 99, "job_id": message.job_id, "enqueued_at": message.enqueued_at});
        assert!(JobMessage::from_json(future.to_string().as_bytes()).is_err());
        let zero = serde_json::json!({"v": 0, "job_id": message.job_id, "enqueued_at": message.enqueued_at});
        assert!(JobMessage::from_json(zero.to_string().as_bytes()).is_err());
        assert!(JobMessage::from_json(b"not json").is_err());
    }

    #[test]
    fn a_job_message_carries_what_recreates_the_record() {
        let record = record();
        let message = JobMessage::for_job(&record, record.created_at);
        assert_eq!(message.v, 2);
        let parsed = JobMessage::from_json(&message.to_json()).expect("parse");
        assert_eq!(parsed, message);
        let seed = parsed.job.expect("a seed");
        assert_eq!(lifecycle::recreate(record.id, seed), record);
    }

    #[test]
    fn version_1_messages_are_still_read() {
        let id = JobId::new_random();
        let v1 = serde_json::json!({"v": 1, "job_id": id, "enqueued_at": "2026-01-15T14:30:00Z"});
        let message = JobMessage::from_json(v1.to_string().as_bytes()).expect("a v1 message");
        assert_eq!(message.v, 1);
        assert_eq!(message.job_id, id);
        assert_eq!(message.job, None, "a v1 message cannot recreate a job");
    }
}
