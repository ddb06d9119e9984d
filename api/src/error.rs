//! The API's error type and the one mapping from error codes to HTTP status.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use facefix_shared::ErrorCode;
use facefix_shared::ports::{BlobError, QueueError, StoreError};
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// An error answered to a client as `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (429, 503).
    pub retry_after: Option<Duration>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    pub fn not_found() -> Self {
        Self::new(
            ErrorCode::NotFound,
            "no such job (it may have been deleted or expired)",
        )
    }
}

/// The HTTP status of each code. The one place this mapping exists.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest
        | ErrorCode::MissingImage
        | ErrorCode::EmptyUpload
        | ErrorCode::InvalidOption
        | ErrorCode::UnknownModel => StatusCode::BAD_REQUEST,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UploadTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::OriginNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::UnsupportedFormat => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::TooManyPixels
        | ErrorCode::CorruptImage
        | ErrorCode::OutputTooLarge
        | ErrorCode::UpsamplerTooLarge => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::NotReady => StatusCode::CONFLICT,
        ErrorCode::BacklogFull | ErrorCode::RateLimited | ErrorCode::QuotaExceeded => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ErrorCode::Busy
        | ErrorCode::QueueUnavailable
        | ErrorCode::StoreUnavailable
        | ErrorCode::BlobUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ModelFailed | ErrorCode::GaveUp | ErrorCode::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Dependencies come back by themselves; tell clients when to try again.
const DEPENDENCY_RETRY_AFTER: Duration = Duration::from_secs(5);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(delay) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, delay.as_secs().max(1).to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "job store error");
        Self::new(
            ErrorCode::StoreUnavailable,
            "the job store is unavailable; try again shortly",
        )
        .retry_after(DEPENDENCY_RETRY_AFTER)
    }
}

impl From<BlobError> for ApiError {
    fn from(error: BlobError) -> Self {
        tracing::warn!(%error, "object store error");
        Self::new(
            ErrorCode::BlobUnavailable,
            "the object store is unavailable; try again shortly",
        )
        .retry_after(DEPENDENCY_RETRY_AFTER)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        tracing::warn!(%error, "job queue error");
        Self::new(
            ErrorCode::QueueUnavailable,
            "the job queue is unavailable; try again shortly",
        )
        .retry_after(DEPENDENCY_RETRY_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_an_error_status() {
        for code in ErrorCode::ALL {
            let status = status_of(*code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code} -> {status}"
            );
        }
        assert_eq!(
            status_of(ErrorCode::BacklogFull),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            status_of(ErrorCode::UnsupportedFormat),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
