//! HTTP handlers, one file per resource.

pub mod events;
pub mod health;
pub mod jobs;
pub mod models;
pub mod openapi;
pub mod web;

use crate::error::ApiError;
use facefix_shared::job::JobId;

/// Parses the `{id}` path segment; a malformed id is as unknown as a purged one.
pub fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}
