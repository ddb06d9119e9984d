//! OpenCV-exact image primitives for the face pipeline.
//!
//! The reference (`facefix_ref.py`) is built on OpenCV, and the worker must reproduce its
//! numbers: each function here names the `cv2` call it matches and reproduces OpenCV's
//! arithmetic (fixed-point coefficients, float operation order, rounding, borders), not
//! just its formula. Images are RGB `u8` ([`image::RgbImage`]) or `f32` HWC
//! ([`ndarray::Array3`]) / single-plane masks ([`Plane`]).

mod area;
mod blur;
mod morph;
mod parallel;
mod resize;
mod sample;
mod warp;

pub use blur::{gaussian_blur, gaussian_kernel};
pub use morph::erode;
pub use warp::{translate, warp_affine, warp_affine_f32, warp_affine_rect};

use image::RgbImage;
use ndarray::Array3;

/// A 2×3 affine matrix mapping source pixel coordinates to destination ones (`cv2`'s `M`).
pub type Affine = [[f64; 3]; 2];

/// `cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)` on an 8-bit RGB image,
/// bit-exact. Used for the MTCNN image pyramid.
pub fn resize_area(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    let data = area::resize_area_plane(
        img.as_raw(),
        (sw as usize, sh as usize),
        3,
        (w as usize, h as usize),
    );
    rgb_from_vec(w, h, data)
}

/// `cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)` on a float32 HWC image (any
/// channel count), bit-exact. Used for the MTCNN RNet/ONet crops.
pub fn resize_area_f32(img: &Array3<f32>, w: usize, h: usize) -> Array3<f32> {
    let (sh, sw, cn) = img.dim();
    let src = img.as_standard_layout();
    let data = match src.as_slice() {
        Some(s) => area::resize_area_plane(s, (sw, sh), cn, (w, h)),
        None => Vec::new(),
    };
    array3_from_vec(h, w, cn, data)
}

/// `cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)` on an 8-bit RGB image,
/// bit-exact (the `aligned=true` resize to the model size).
pub fn resize_linear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    let (ssize, dsize) = ((sw as usize, sh as usize), (w as usize, h as usize));
    // OpenCV turns an exact 2× reduction into the (equal, faster) INTER_AREA box average.
    let data = if sw == 2 * w && sh == 2 * h {
        area::resize_area_plane(img.as_raw(), ssize, 3, dsize)
    } else if ssize == dsize {
        img.as_raw().clone()
    } else {
        resize::resize_separable(img.as_raw(), ssize, 3, dsize, resize::Interp::Linear)
    };
    rgb_from_vec(w, h, data)
}

/// `cv2.resize(img, (w, h), interpolation=cv2.INTER_LANCZOS4)` on an 8-bit RGB image,
/// bit-exact (the paste-back background).
pub fn resize_lanczos4(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    let (ssize, dsize) = ((sw as usize, sh as usize), (w as usize, h as usize));
    let data = if ssize == dsize {
        img.as_raw().clone()
    } else {
        resize::resize_separable(img.as_raw(), ssize, 3, dsize, resize::Interp::Lanczos4)
    };
    rgb_from_vec(w, h, data)
}

/// Wraps a buffer produced for `w × h` RGB; a size mismatch (impossible by construction)
/// yields a black image rather than a panic.
fn rgb_from_vec(w: u32, h: u32, data: Vec<u8>) -> RgbImage {
    RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
}

fn array3_from_vec(h: usize, w: usize, cn: usize, data: Vec<f32>) -> Array3<f32> {
    Array3::from_shape_vec((h, w, cn), data).unwrap_or_else(|_| Array3::zeros((h, w, cn)))
}
