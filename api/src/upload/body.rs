//! Reads an upload (multipart field `image`, or a raw `image/*` body) within the byte
//! limit, without ever buffering more than the limit.

use super::options::{apply_option, apply_query};
use crate::error::ApiError;
use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use facefix_shared::ErrorCode;
use facefix_shared::job::JobParams;
use futures_util::{Stream, StreamExt};

/// Multipart framing and option fields add a little to the image itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Option values are short; anything longer is not an option.
const MAX_OPTION_BYTES: usize = 1024;

/// The image bytes and the options sent with them.
pub struct Upload {
    pub image: Bytes,
    pub params: JobParams,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!(
            "the upload is larger than the limit of {:.1} MiB",
            limit as f64 / 1048576.0
        ),
    )
}

/// Reads a stream of chunks into memory, failing as soon as it passes `limit` bytes.
async fn read_limited<S, E>(
    mut stream: S,
    limit: u64,
    over_limit: impl Fn() -> ApiError,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the upload was interrupted: {e}"),
            )
        })?;
        if buffer.len() as u64 + chunk.len() as u64 > limit {
            return Err(over_limit());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

fn is_multipart(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn declared_length(request: &HttpRequest) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads the upload of `POST /v1/jobs`.
pub async fn read_upload(
    request: &HttpRequest,
    payload: web::Payload,
    limit: u64,
) -> Result<Upload, ApiError> {
    let multipart = is_multipart(request);
    let allowance = if multipart {
        limit + MULTIPART_OVERHEAD
    } else {
        limit
    };
    // Refuse a declared oversize body at once, before reading a byte of it.
    if declared_length(request).is_some_and(|length| length > allowance) {
        return Err(too_large(limit));
    }
    let mut params = JobParams::default();
    apply_query(&mut params, request.query_string())?;
    if multipart {
        read_multipart(request, payload, limit, params).await
    } else {
        let image = read_limited(payload, limit, || too_large(limit)).await?;
        if image.is_empty() {
            return Err(ApiError::new(
                ErrorCode::MissingImage,
                "no image: send multipart/form-data with an `image` field, or the image itself as the body",
            ));
        }
        Ok(Upload { image, params })
    }
}

async fn read_multipart(
    request: &HttpRequest,
    payload: web::Payload,
    limit: u64,
    mut params: JobParams,
) -> Result<Upload, ApiError> {
    let mut form = Multipart::new(request.headers(), payload);
    let mut image = None;
    while let Some(field) = form.next().await {
        let field = field.map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("malformed multipart body: {e}"),
            )
        })?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            if image.is_some() {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "send one `image` field per job",
                ));
            }
            image = Some(read_limited(field, limit, || too_large(limit)).await?);
        } else {
            let value = read_limited(field, MAX_OPTION_BYTES as u64, || {
                ApiError::new(
                    ErrorCode::InvalidOption,
                    format!("option `{name}` is too long"),
                )
            })
            .await?;
            let value = std::str::from_utf8(&value).map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidOption,
                    format!("option `{name}` is not text"),
                )
            })?;
            apply_option(&mut params, &name, value)?;
        }
    }
    let image = image.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingImage,
            "the multipart body has no `image` field",
        )
    })?;
    Ok(Upload { image, params })
}
