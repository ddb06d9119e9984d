//! Output encoding with no metadata at all: no EXIF, XMP, ICC, text chunks or comments
//! reach the output, whatever the input carried (the encoders below are never given any).
//!
//! * PNG: fast deflate with adaptive filters (the outputs are large upscales; OpenCV's
//!   default is its fastest level too). Chunks: IHDR, IDAT, IEND.
//! * JPEG: libjpeg-turbo with OpenCV's settings (`jpeg.rs`): baseline, 4:2:0, at the
//!   given quality (the reference uses 95); the only header segment besides the tables is
//!   the JFIF APP0 (version and pixel density).
//! * WebP: the image crate's encoder is lossless-only (VP8L), so WebP outputs are
//!   lossless and larger than a lossy encoder's would be.
//!
//! Alpha is re-attached for PNG and WebP; JPEG has none.

use facefix_shared::job::ImageFormat;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, GrayImage, ImageEncoder, RgbImage};

/// The reference's JPEG quality (`cv2.IMWRITE_JPEG_QUALITY, 95`).
pub const DEFAULT_JPEG_QUALITY: u8 = 95;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("alpha is {alpha_w}x{alpha_h} but the image is {w}x{h}")]
    AlphaSize {
        w: u32,
        h: u32,
        alpha_w: u32,
        alpha_h: u32,
    },
    #[error("{format:?} encoding failed: {message}")]
    Encoder {
        format: ImageFormat,
        message: String,
    },
}

/// Whether `format` carries an alpha channel.
pub fn supports_alpha(format: ImageFormat) -> bool {
    matches!(format, ImageFormat::Png | ImageFormat::Webp)
}

mod jpeg;
mod jpeg_parts;

/// Encodes `img` (plus `alpha` for PNG/WebP; ignored for JPEG) with no metadata.
/// `jpeg_quality` is clamped to 1..=100 and used for JPEG only.
pub fn encode(
    img: &RgbImage,
    alpha: Option<&GrayImage>,
    format: ImageFormat,
    jpeg_quality: u8,
) -> Result<Vec<u8>, EncodeError> {
    let (w, h) = img.dimensions();
    let alpha = alpha.filter(|_| supports_alpha(format));
    let rgba;
    let (data, color): (&[u8], ExtendedColorType) = match alpha {
        Some(a) if a.dimensions() != (w, h) => {
            let (alpha_w, alpha_h) = a.dimensions();
            return Err(EncodeError::AlphaSize {
                w,
                h,
                alpha_w,
                alpha_h,
            });
        }
        Some(a) => {
            rgba = interleave(img, a);
            (&rgba, ExtendedColorType::Rgba8)
        }
        None => (img.as_raw(), ExtendedColorType::Rgb8),
    };
    let mut out = Vec::new();
    let result = match format {
        ImageFormat::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(data, w, h, color)
        }
        ImageFormat::Jpeg => {
            // JPEG has no alpha: `data` is the RGB buffer here.
            return jpeg_parts::encode_in_parts(data, w, h, jpeg_quality, jpeg_parts(w, h))
                .map_err(|message| EncodeError::Encoder { format, message });
        }
        ImageFormat::Webp => WebPEncoder::new_lossless(&mut out).write_image(data, w, h, color),
    };
    result.map_err(|e| EncodeError::Encoder {
        format,
        message: e.to_string(),
    })?;
    Ok(out)
}

fn interleave(img: &RgbImage, alpha: &GrayImage) -> Vec<u8> {
    let mut v = Vec::with_capacity(alpha.as_raw().len() * 4);
    for (px, &a) in img.as_raw().chunks_exact(3).zip(alpha.as_raw()) {
        v.extend_from_slice(&[px[0], px[1], px[2], a]);
    }
    v
}

/// How many bands a JPEG of `w`×`h` is encoded in: one per core for large outputs
/// (`jpeg_parts.rs`), one below [`jpeg_parts::MIN_PARALLEL_PIXELS`] — so small outputs keep
/// the reference's exact bytes, and large ones its exact pixels.
fn jpeg_parts(w: u32, h: u32) -> u32 {
    if u64::from(w) * u64::from(h) < jpeg_parts::MIN_PARALLEL_PIXELS {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8) as u32)
}
