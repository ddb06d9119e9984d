//! The soft mask of one pasted face (facexlib's square-mask path, `facefix_ref`'s
//! `_face_roi` and `_soft_mask_and_face`): the rectangle of the output a face can touch,
//! and on it the warped face and its ones-mask, eroded and blurred into alpha.
//!
//! Kept apart from the compositing in [`super::paste`]: this is per face and pure, the
//! compositing decides order and overlap.

use super::cv::{self, Affine};
use image::RgbImage;
use ndarray::Array2;

/// Output rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Rect {
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    pub fn union(&self, o: &Rect) -> Rect {
        Rect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
}

/// The reference's `_face_roi`: outside this rectangle the face's soft mask is exactly 0.
/// The ones-mask is non-zero where the source lies in (−1, size); the margin covers
/// OpenCV's coordinate rounding and the erosion/blur (w_edge ≤ scaled side / 20).
pub(super) fn face_roi(
    inv: &Affine,
    size: usize,
    (out_w, out_h): (usize, usize),
    upscale: u32,
) -> Rect {
    let s = size as f64;
    let corners = [[-1.0, -1.0], [s, -1.0], [s, s], [-1.0, s]];
    let pts = corners.map(|[x, y]| {
        [
            inv[0][0] * x + inv[0][1] * y + inv[0][2],
            inv[1][0] * x + inv[1][1] * y + inv[1][2],
        ]
    });
    let scale = (inv[0][0] * inv[1][1] - inv[0][1] * inv[1][0]).abs().sqrt();
    let margin = ((scale * s) as i64) / 20 + i64::from(2 * upscale) + 4;
    let fold = |f: fn(f64, f64) -> f64, init: f64, axis: usize| {
        pts.iter().fold(init, |a, p| f(a, p[axis]))
    };
    let x0 = fold(f64::min, f64::INFINITY, 0).floor() as i64 - margin;
    let y0 = fold(f64::min, f64::INFINITY, 1).floor() as i64 - margin;
    let x1 = fold(f64::max, f64::NEG_INFINITY, 0).ceil() as i64 + margin + 1;
    let y1 = fold(f64::max, f64::NEG_INFINITY, 1).ceil() as i64 + margin + 1;
    let clamp = |v: i64, hi: usize| v.clamp(0, hi as i64) as usize;
    Rect {
        x0: clamp(x0, out_w),
        y0: clamp(y0, out_h),
        x1: clamp(x1, out_w),
        y1: clamp(y1, out_h),
    }
}

/// One face on its rectangle: the soft mask α and the masked face (`pasted`), as the
/// reference's `_soft_mask_and_face` computes them (float32, like OpenCV).
pub(super) struct SoftFace {
    pub alpha: Array2<f32>,
    /// `eroded mask × warped face`, RGB interleaved, float32.
    pub pasted: Vec<f32>,
}

pub(super) fn soft_face(
    face: &RgbImage,
    local: &Affine,
    (w, h): (usize, usize),
    upscale: u32,
) -> SoftFace {
    let size = face.width() as usize;
    let warped = cv::warp_affine(face, local, w as u32, h as u32, [0, 0, 0]);
    let ones = Array2::<f32>::ones((face.height() as usize, size));
    let mask = cv::warp_affine_f32(&ones, local, w, h, 0.0);
    let eroded = cv::erode(&mask, (2 * upscale) as usize);
    let pasted: Vec<f32> = eroded
        .iter()
        .zip(warped.as_raw().chunks_exact(3))
        .flat_map(|(&m, px)| px.iter().map(move |&v| m * f32::from(v)))
        .collect();
    let area: f64 = eroded.iter().map(|&v| f64::from(v)).sum();
    let w_edge = (area.sqrt() as usize) / 20;
    // facexlib erodes with ones((2·w_edge)²); for w_edge = 0 that is an empty kernel,
    // which OpenCV treats as 3×3 (erode's k = 0 does the same).
    let centre = cv::erode(&eroded, 2 * w_edge);
    let alpha = if w_edge > 0 {
        cv::gaussian_blur(&centre, 2 * w_edge + 1, 0.0)
    } else {
        centre
    };
    SoftFace { alpha, pasted }
}
