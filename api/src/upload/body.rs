//! Reads an upload (multipart field `image`, or a raw `image/*` body) within the byte
//! limit, without ever buffering more than the limit, within the upload's [`Pace`], and
//! holding its bytes against the process's upload budget ([`BufferClaim`]).

use super::flow::{BufferClaim, Pace, UploadFlow};
use super::options::{apply_option, apply_query};
use crate::error::ApiError;
use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use facefix_shared::ErrorCode;
use facefix_shared::job::JobParams;
use futures_util::Stream;

/// Multipart framing and option fields add a little to the image itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Option values are short; anything longer is not an option.
const MAX_OPTION_BYTES: usize = 1024;

/// The image bytes and the options sent with them.
pub struct Upload {
    pub image: Bytes,
    pub params: JobParams,
    /// The memory the image holds against the budget: keep it as long as the bytes.
    pub claim: BufferClaim,
}

/// What reading one body needs besides the stream: its clock and its memory claim.
struct Reader {
    pace: Pace,
    claim: BufferClaim,
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

/// Reads a stream of chunks into memory, failing as soon as it passes `limit` bytes, comes
/// late, or needs more memory than the budget has left.
async fn read_limited<S, E>(
    mut stream: S,
    limit: u64,
    over_limit: impl Fn() -> ApiError,
    reader: &mut Reader,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buffer = BytesMut::new();
    while let Some(chunk) = reader.pace.next(&mut stream).await? {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the upload was interrupted: {e}"),
            )
        })?;
        reader.pace.received(chunk.len());
        let total = buffer.len() as u64 + chunk.len() as u64;
        if total > limit {
            return Err(over_limit());
        }
        reader.claim.grow_to(total)?;
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
    flow: &UploadFlow,
) -> Result<Upload, ApiError> {
    let multipart = is_multipart(request);
    let allowance = if multipart {
        limit + MULTIPART_OVERHEAD
    } else {
        limit
    };
    // Refuse a declared oversize body at once, before reading a byte of it.
    let declared = declared_length(request);
    if declared.is_some_and(|length| length > allowance) {
        return Err(too_large(limit));
    }
    let mut params = JobParams::default();
    apply_query(&mut params, request.query_string())?;
    // A declared length is claimed whole, so an upload that cannot fit is refused before
    // its body is read; an undeclared one claims memory as its bytes arrive.
    let mut reader = Reader {
        claim: flow.claim(declared)?,
        pace: flow.pace(),
    };
    if multipart {
        read_multipart(request, payload, limit, params, reader).await
    } else {
        let image = read_limited(payload, limit, || too_large(limit), &mut reader).await?;
        if image.is_empty() {
            return Err(ApiError::new(
                ErrorCode::MissingImage,
                "no image: send multipart/form-data with an `image` field, or the image itself as the body",
            ));
        }
        Ok(Upload {
            image,
            params,
            claim: reader.claim,
        })
    }
}

async fn read_multipart(
    request: &HttpRequest,
    payload: web::Payload,
    limit: u64,
    mut params: JobParams,
    mut reader: Reader,
) -> Result<Upload, ApiError> {
    let mut form = Multipart::new(request.headers(), payload);
    let mut image = None;
    while let Some(field) = reader.pace.next(&mut form).await? {
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
            image = Some(read_limited(field, limit, || too_large(limit), &mut reader).await?);
        } else {
            let too_long = || {
                ApiError::new(
                    ErrorCode::InvalidOption,
                    format!("option `{name}` is too long"),
                )
            };
            let value = read_limited(field, MAX_OPTION_BYTES as u64, too_long, &mut reader).await?;
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
    Ok(Upload {
        image,
        params,
        claim: reader.claim,
    })
}
