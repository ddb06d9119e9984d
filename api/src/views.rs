//! Response bodies beyond the job record itself.

use facefix_shared::job::{JobRecord, JobState};
use serde::Serialize;
use utoipa::ToSchema;

/// A job as answered by the API: the record, where to find its parts, and the backlog
/// while it waits.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub record: JobRecord,
    pub links: JobLinks,
    /// Jobs waiting in the queue (all jobs, not only those ahead of this one); present while
    /// this job is queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub events: String,
    pub input: String,
    /// Present once the job succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl JobView {
    pub fn new(record: JobRecord, backlog: Option<u64>) -> Self {
        let base = format!("/v1/jobs/{}", record.id);
        let links = JobLinks {
            this: base.clone(),
            events: format!("{base}/events"),
            input: format!("{base}/input"),
            result: (record.state == JobState::Succeeded).then(|| format!("{base}/result")),
        };
        let backlog = backlog.filter(|_| record.state == JobState::Queued);
        Self {
            record,
            links,
            backlog,
        }
    }
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: &'static str,
    /// Per dependency: "ok" or the error (readiness only).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub checks: std::collections::BTreeMap<&'static str, String>,
}
