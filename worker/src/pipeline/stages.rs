//! The image stages the orchestration calls, in one place: decode, align, paste back,
//! resizes and encode, mapped onto the numerics modules (`decode`, `align`, `paste`,
//! `encode`, `cv`) and their errors onto pipeline errors.
//!
//! The numerics live there; this file only adapts signatures and errors.

use super::error::PipelineError;
use super::face::Affine;
use super::image::{align, cv, decode, encode, paste};
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::ImageFormat;
use image::{GrayImage, RgbImage};

pub use super::image::decode::{Decoded, SourceInfo};

/// Decodes with the limits (header checks first), EXIF orientation applied, 8-bit RGB
/// plus the alpha kept aside; failures are the input's fault (permanent, with the code).
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<Decoded, PipelineError> {
    decode::decode(bytes, limits).map_err(|e| PipelineError::input(e.code(), e.to_string()))
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
    paste_onto(background(img, upscale), restored, affines, upscale)
}

/// The Lanczos background the faces are pasted onto: `img` enlarged `upscale`×.
pub fn background(img: &RgbImage, upscale: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    cv::resize_lanczos4(img, w * upscale, h * upscale)
}

/// The same faces pasted onto a background already enlarged `upscale`× (the background
/// upsampler's), instead of the Lanczos one.
pub fn paste_onto(
    background: RgbImage,
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
    (
        paste::paste_back_onto(background, &faces, upscale),
        inverses,
    )
}

/// The similarity from `landmarks` to the template of a `size` crop, without the warp.
pub fn alignment(landmarks: &[[f64; 2]; 5], size: u32) -> Affine {
    align::umeyama_similarity(landmarks, &align::ffhq_template(size))
}

/// How many source pixels a crop side of `size` covers under `m` (a similarity: its
/// scale is the length of a column).
pub fn source_side(m: &Affine, size: u32) -> f64 {
    let scale = m[0][0].hypot(m[1][0]);
    if scale > 0.0 {
        f64::from(size) / scale
    } else {
        f64::from(size)
    }
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

/// The input's alpha for an output of `format` and `(w, h)`: resized when the format
/// carries alpha, dropped when it does not.
pub fn output_alpha(
    alpha: Option<GrayImage>,
    format: ImageFormat,
    (w, h): (u32, u32),
) -> Option<GrayImage> {
    alpha
        .filter(|_| encode::supports_alpha(format))
        .map(|a| resize_alpha(&a, w, h))
}

/// Encodes with no metadata at all (`quality` for JPEG).
pub fn encode(
    img: &RgbImage,
    alpha: Option<&GrayImage>,
    format: ImageFormat,
    quality: u8,
) -> Result<Vec<u8>, PipelineError> {
    encode::encode(img, alpha, format, quality).map_err(|e| PipelineError::Internal(e.to_string()))
}
