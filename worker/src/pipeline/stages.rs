//! The image stages the orchestration calls, in one place: decode, align, paste back,
//! resizes and encode, mapped onto the numerics modules (`decode`, `align`, `paste`,
//! `encode`, `cv`) and their errors onto pipeline errors.
//!
//! TEMPORARY: decode and encode below are image-crate stand-ins until the numerics
//! `decode` / `encode` modules land (magic-byte sniffing, truncation checks, 16-bit and
//! CMYK handling); everything else calls the OpenCV-exact modules.

use super::error::PipelineError;
use super::face::Affine;
use super::{align, cv, paste};
use facefix_shared::ErrorCode;
use facefix_shared::job::ImageFormat;
use image::{GrayImage, RgbImage};
use serde::Serialize;

/// Input limits checked before pixels are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            max_side: 12_000,
        }
    }
}

/// What the JSON reports about the source image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
}

/// An upright 8-bit RGB image with its alpha kept aside.
pub struct Decoded {
    pub rgb: RgbImage,
    pub alpha: Option<GrayImage>,
    pub format: ImageFormat,
    pub source: SourceInfo,
}

fn from_image_format(format: image::ImageFormat) -> Option<ImageFormat> {
    match format {
        image::ImageFormat::Png => Some(ImageFormat::Png),
        image::ImageFormat::Jpeg => Some(ImageFormat::Jpeg),
        image::ImageFormat::WebP => Some(ImageFormat::Webp),
        _ => None,
    }
}

pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded, PipelineError> {
    use image::ImageDecoder;
    if bytes.is_empty() {
        return Err(PipelineError::input(
            ErrorCode::EmptyUpload,
            "the input is empty",
        ));
    }
    let corrupt =
        |e: image::ImageError| PipelineError::input(ErrorCode::CorruptImage, e.to_string());
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PipelineError::input(ErrorCode::CorruptImage, e.to_string()))?;
    let format = reader.format().and_then(from_image_format).ok_or_else(|| {
        PipelineError::input(
            ErrorCode::UnsupportedFormat,
            "not a JPEG, PNG or WebP image",
        )
    })?;
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > limits.max_pixels || w.max(h) > limits.max_side {
        return Err(PipelineError::input(
            ErrorCode::TooManyPixels,
            format!("{w}x{h} is over the input limit"),
        ));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    let has_alpha = img.color().has_alpha();
    let alpha = has_alpha.then(|| {
        let rgba = img.to_rgba8();
        GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            image::Luma([rgba.get_pixel(x, y)[3]])
        })
    });
    let rgb = img.to_rgb8();
    Ok(Decoded {
        source: SourceInfo {
            width: rgb.width(),
            height: rgb.height(),
            has_alpha,
        },
        rgb,
        alpha,
        format,
    })
}

/// Umeyama similarity to the FFHQ template scaled to `size`, bilinear warp, border RGB
/// (132, 133, 135).
pub fn align(img: &RgbImage, landmarks: &[[f64; 2]; 5], size: u32) -> (RgbImage, Affine) {
    align::align_face(img, landmarks, size)
}

/// Lanczos background ×`upscale` with the restored faces blended in, in order; returns
/// the image and each face's inverse affine (crop → output).
pub fn paste(
    img: &RgbImage,
    restored: Vec<RgbImage>,
    affines: &[Affine],
    upscale: u32,
) -> (RgbImage, Vec<Affine>) {
    let inverses = affines
        .iter()
        .take(restored.len())
        .map(|m| paste::inverse_affine(m, upscale))
        .collect();
    let faces: Vec<(RgbImage, Affine)> =
        restored.into_iter().zip(affines.iter().copied()).collect();
    (paste::paste_back(img, &faces, upscale), inverses)
}

/// `cv2.resize(INTER_LINEAR)` (the `aligned` input to the model size).
pub fn resize_linear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    cv::resize_linear(img, w, h)
}

/// The input's alpha at the output size (Lanczos).
pub fn resize_alpha(alpha: &GrayImage, w: u32, h: u32) -> GrayImage {
    if alpha.dimensions() == (w, h) {
        return alpha.clone();
    }
    // OpenCV resizes channels independently: the plane replicated into RGB and back gives
    // cv2.resize(alpha, LANCZOS4) exactly.
    let rgb = RgbImage::from_fn(alpha.width(), alpha.height(), |x, y| {
        let a = alpha.get_pixel(x, y)[0];
        image::Rgb([a, a, a])
    });
    let up = cv::resize_lanczos4(&rgb, w, h);
    GrayImage::from_fn(w, h, |x, y| image::Luma([up.get_pixel(x, y)[0]]))
}

/// Formats that carry an alpha channel.
pub fn keeps_alpha(format: ImageFormat) -> bool {
    matches!(format, ImageFormat::Png | ImageFormat::Webp)
}

/// Encodes with no metadata at all.
pub fn encode(
    img: &RgbImage,
    alpha: Option<&GrayImage>,
    format: ImageFormat,
    quality: u8,
) -> Result<Vec<u8>, PipelineError> {
    let mut out = std::io::Cursor::new(Vec::new());
    let dynamic = match alpha {
        Some(a) => {
            let mut rgba = image::RgbaImage::new(img.width(), img.height());
            for ((p, s), al) in rgba.pixels_mut().zip(img.pixels()).zip(a.pixels()) {
                *p = image::Rgba([s[0], s[1], s[2], al[0]]);
            }
            image::DynamicImage::ImageRgba8(rgba)
        }
        None => image::DynamicImage::ImageRgb8(img.clone()),
    };
    let result = match format {
        ImageFormat::Png => dynamic.write_to(&mut out, image::ImageFormat::Png),
        ImageFormat::Webp => dynamic.write_to(&mut out, image::ImageFormat::WebP),
        ImageFormat::Jpeg => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            image::DynamicImage::ImageRgb8(img.clone()).write_with_encoder(enc)
        }
    };
    result.map_err(|e| PipelineError::Internal(format!("encode failed: {e}")))?;
    Ok(out.into_inner())
}
