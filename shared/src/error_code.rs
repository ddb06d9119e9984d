//! Every error code facefix reports, in one place.
//!
//! Codes are part of the public contract: clients (and the web page) switch on them, so a
//! code is never renamed or reused. HTTP status mapping lives in the API crate; this list
//! only says what each code means.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable, kebab-case error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The request is malformed (bad multipart, bad option value, ...).
    BadRequest,
    /// No image was sent: no `image` field, or an empty body.
    MissingImage,
    /// The upload is zero bytes long.
    EmptyUpload,
    /// An option is out of range or unknown (`upscale`, `format`, `model`, ...).
    InvalidOption,
    /// The upload is over the byte limit.
    TooLarge,
    /// The upload's body did not arrive in time: it took longer than the upload timeout, or
    /// came slower than the minimum rate. Nothing was stored.
    UploadTimeout,
    /// The bytes are not a JPEG, PNG or WebP (detected from the content, not the name).
    UnsupportedFormat,
    /// Width, height or pixel count is over the configured limit.
    TooManyPixels,
    /// The image is truncated or otherwise cannot be decoded.
    CorruptImage,
    /// The requested upscale would produce an output over the output pixel limit.
    OutputTooLarge,
    /// The background upsampler was asked for on an image over the pixel limit this
    /// deployment sets for it (it is slow on CPU: see `GET /v1/models`).
    UpsamplerTooLarge,
    /// The requested model is not configured on this deployment.
    UnknownModel,
    /// The job does not exist (never did, or was deleted or expired).
    NotFound,
    /// The result is not available yet (job not succeeded).
    NotReady,
    /// The backlog is over its bound; retry after the `Retry-After` delay.
    BacklogFull,
    /// The API holds as many upload bytes in memory as it may; retry after the `Retry-After`
    /// delay. Nothing was stored.
    Busy,
    /// This deployment requires an API key (`--api-keys-file`) and the request carried
    /// none, or one it does not know.
    Unauthorized,
    /// The API key submitted more jobs than its rate allows; retry after the `Retry-After`
    /// delay.
    RateLimited,
    /// The API key has as many unfinished (queued or processing) jobs as it may; retry once
    /// one of them has finished.
    QuotaExceeded,
    /// The request came from a web page of another origin, which this deployment does not
    /// allow (`--cors-origins`).
    OriginNotAllowed,
    /// The job queue (broker) is unreachable or did not confirm.
    QueueUnavailable,
    /// The job store (Redis) is unreachable.
    StoreUnavailable,
    /// The object store (S3) is unreachable.
    BlobUnavailable,
    /// The restoration model failed on this input.
    ModelFailed,
    /// The job failed too many times (delivery limit reached) and was given up.
    GaveUp,
    /// An unexpected internal error; the message says more.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadRequest,
        Self::MissingImage,
        Self::EmptyUpload,
        Self::InvalidOption,
        Self::TooLarge,
        Self::UploadTimeout,
        Self::UnsupportedFormat,
        Self::TooManyPixels,
        Self::CorruptImage,
        Self::OutputTooLarge,
        Self::UpsamplerTooLarge,
        Self::UnknownModel,
        Self::NotFound,
        Self::NotReady,
        Self::BacklogFull,
        Self::Busy,
        Self::Unauthorized,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::OriginNotAllowed,
        Self::QueueUnavailable,
        Self::StoreUnavailable,
        Self::BlobUnavailable,
        Self::ModelFailed,
        Self::GaveUp,
        Self::Internal,
    ];

    /// The wire form, e.g. `too-many-pixels`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::MissingImage => "missing-image",
            Self::EmptyUpload => "empty-upload",
            Self::InvalidOption => "invalid-option",
            Self::TooLarge => "too-large",
            Self::UploadTimeout => "upload-timeout",
            Self::UnsupportedFormat => "unsupported-format",
            Self::TooManyPixels => "too-many-pixels",
            Self::CorruptImage => "corrupt-image",
            Self::OutputTooLarge => "output-too-large",
            Self::UpsamplerTooLarge => "upsampler-too-large",
            Self::UnknownModel => "unknown-model",
            Self::NotFound => "not-found",
            Self::NotReady => "not-ready",
            Self::BacklogFull => "backlog-full",
            Self::Busy => "busy",
            Self::Unauthorized => "unauthorized",
            Self::RateLimited => "rate-limited",
            Self::QuotaExceeded => "quota-exceeded",
            Self::OriginNotAllowed => "origin-not-allowed",
            Self::QueueUnavailable => "queue-unavailable",
            Self::StoreUnavailable => "store-unavailable",
            Self::BlobUnavailable => "blob-unavailable",
            Self::ModelFailed => "model-failed",
            Self::GaveUp => "gave-up",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_matches_serde_for_every_code() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
        }
    }
}
