use super::{ImageFormat, JobId, JobParams, JobState};
use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Size and type of an image (the upload or the result). No file name, no metadata:
/// nothing the user supplied besides the pixels is ever kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// Why a job failed: a stable code and a message for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobFailure {
    pub code: ErrorCode,
    pub message: String,
}

/// Per-stage wall times in milliseconds. Stages that did not run are absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StageTimings {
    /// Reading the input from the object store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub align: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paste: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encode: Option<f64>,
    /// Writing the result to the object store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<f64>,
    /// From the start of processing to the result being stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
}

impl StageTimings {
    /// (name, milliseconds) of every stage that ran, in pipeline order.
    pub fn entries(&self) -> Vec<(&'static str, f64)> {
        [
            ("fetch", self.fetch),
            ("decode", self.decode),
            ("detect", self.detect),
            ("align", self.align),
            ("restore", self.restore),
            ("paste", self.paste),
            ("encode", self.encode),
            ("store", self.store),
            ("total", self.total),
        ]
        .into_iter()
        .filter_map(|(name, ms)| ms.map(|ms| (name, ms)))
        .collect()
    }
}

/// Everything known about a job. Stored as JSON in the job store; returned by
/// `GET /v1/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobRecord {
    pub id: JobId,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// When the input, the result and this record are destroyed.
    pub expires_at: DateTime<Utc>,
    pub params: JobParams,
    pub input: ImageInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ImageInfo>,
    /// Faces the detector found (after the eye-distance filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces_found: Option<u32>,
    /// Faces restored and pasted back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces_restored: Option<u32>,
    #[serde(default)]
    pub timings_ms: StageTimings,
    /// How many times a worker started this job.
    #[serde(default)]
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
    /// Things the worker changed from what was asked, e.g. a clamped upscale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The name of the API key that created the job (`--api-keys-file`); only that key may
    /// read or delete it. Never the key itself. Absent when keys are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl JobRecord {
    /// The output format: what the client asked for, else the input's.
    pub fn output_format(&self) -> ImageFormat {
        self.params.format.unwrap_or(self.input.format)
    }
}
