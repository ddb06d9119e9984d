//! Input decoding: the shared intake's header check first (format sniffed from the bytes,
//! JPEG, PNG, WebP only; oversized images refused from their header, as the API refuses
//! them), then decode under `image::Limits`, refuse truncated files, apply EXIF
//! orientation, and convert to 8-bit RGB with alpha kept aside (`facefix_ref.decode_image`).
//!
//! Parity with the reference (OpenCV's decoders): PNG and lossless WebP through the
//! `image` crate and JPEG through libjpeg-turbo (`jpeg.rs`, the library OpenCV uses)
//! give the reference's pixels exactly (`tests/cv_decode.rs`).

mod convert;
mod exif;
mod jpeg;

use facefix_shared::intake::{self, Header, ImageLimits, IntakeError};
use facefix_shared::job::ImageFormat;
use image::{GrayImage, RgbImage};
use std::io::Cursor;

/// What the source held, as the reference's JSON reports it (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SourceInfo {
    /// Channels as decoded (1 gray, 2 gray + alpha, 3 colour, 4 colour + alpha; palette
    /// images count as their expansion, CMYK JPEGs as 3).
    pub channels: u8,
    /// 8 or 16.
    pub bit_depth: u8,
    /// EXIF orientation found (1..=8; 1 when absent); the pixels are already upright.
    pub orientation: u8,
    pub had_alpha: bool,
}

/// An upright 8-bit RGB image, its alpha (if any) and where it came from.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub rgb: RgbImage,
    pub alpha: Option<GrayImage>,
    pub format: ImageFormat,
    pub source: SourceInfo,
}

fn image_format(f: ImageFormat) -> image::ImageFormat {
    match f {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Webp => image::ImageFormat::WebP,
    }
}

/// Decodes an upload (see the module doc for the steps and their order).
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<Decoded, IntakeError> {
    let Header {
        format,
        width,
        height,
    } = intake::read_header(bytes, limits)?;
    if format == ImageFormat::Jpeg && !intake::jpeg_is_complete(bytes) {
        return Err(IntakeError::corrupt(
            "JPEG data ends before its end-of-image marker",
        ));
    }
    let planes = if format == ImageFormat::Jpeg {
        jpeg::decode(bytes, limits.max_pixels)?
    } else {
        decode_with_image(bytes, format, width, height, limits)?
    };
    if planes.rgb.dimensions() != (width, height) {
        return Err(IntakeError::corrupt("decoded size differs from the header"));
    }
    let orientation = exif::orientation(bytes, format);
    let rgb = convert::orient(planes.rgb, orientation);
    let alpha = planes.alpha.map(|a| convert::orient_gray(a, orientation));
    Ok(Decoded {
        source: SourceInfo {
            channels: planes.channels,
            bit_depth: planes.bit_depth,
            orientation,
            had_alpha: alpha.is_some(),
        },
        rgb,
        alpha,
        format,
    })
}

/// PNG and WebP through the `image` crate, under its allocation limits.
fn decode_with_image(
    bytes: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    limits: &ImageLimits,
) -> Result<convert::Planes, IntakeError> {
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => limits.refusal(width, height),
        other => IntakeError::corrupt(other.to_string()),
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format(format));
    // Defence in depth: the decoder itself refuses anything past the header's limits
    // (the budget covers a 16-bit RGBA buffer of max_pixels plus decoder scratch).
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    lim.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(lim);
    let img = reader.decode().map_err(corrupt)?;
    convert::to_planes(&img).ok_or_else(|| IntakeError::corrupt("unsupported sample type"))
}
