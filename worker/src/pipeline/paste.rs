//! Paste-back (brief §1.6, facexlib's square-mask path, `facefix_ref.paste_back`):
//! Lanczos background, then per face, in order, the restored crop and a ones-mask warped
//! back, eroded, blurred, and blended in float64; one truncation to 8 bits at the end.
//!
//! As in the reference (its default), each face is computed on a rectangle around it —
//! the face's support plus the erosion/blur margin — instead of the whole upscaled
//! canvas; warps there use the matrix translated to the rectangle, exactly like the
//! reference, so the numbers are its numbers.

use super::cv::{self, Affine};
use image::RgbImage;
use ndarray::Array2;

/// Crop → output matrix: `invertAffineTransform(m) · upscale`, plus facexlib's
/// `0.5 · upscale` translation when `upscale > 1` (it over-corrects by half an output
/// pixel; that is the spec, see reference/README "Parity notes").
pub fn inverse_affine(m: &Affine, upscale: u32) -> Affine {
    // cv::invertAffineTransform, in double.
    let [[m0, m1, m2], [m3, m4, m5]] = *m;
    let d = m0 * m4 - m1 * m3;
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (a11, a22, a12, a21) = (m4 * d, m0 * d, -m1 * d, -m3 * d);
    let b1 = -a11 * m2 - a12 * m5;
    let b2 = -a21 * m2 - a22 * m5;
    let u = f64::from(upscale);
    let shift = if upscale > 1 { 0.5 * u } else { 0.0 };
    [
        [a11 * u, a12 * u, b1 * u + shift],
        [a21 * u, a22 * u, b2 * u + shift],
    ]
}

/// Output rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Rect {
    fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    fn union(&self, o: &Rect) -> Rect {
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
fn face_roi(inv: &Affine, size: usize, (out_w, out_h): (usize, usize), upscale: u32) -> Rect {
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
struct SoftFace {
    alpha: Array2<f32>,
    /// `eroded mask × warped face`, RGB interleaved, float32.
    pasted: Vec<f32>,
}

fn soft_face(face: &RgbImage, local: &Affine, (w, h): (usize, usize), upscale: u32) -> SoftFace {
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

/// Restores the faces into the `upscale`× Lanczos background of `input`.
///
/// `faces`: each restored S×S crop with its affine (input → crop), composited in order.
/// A 0-face call returns exactly `cv2.resize(input, ×upscale, INTER_LANCZOS4)`.
pub fn paste_back(input: &RgbImage, faces: &[(RgbImage, Affine)], upscale: u32) -> RgbImage {
    let (w, h) = input.dimensions();
    let (out_w, out_h) = (w * upscale, h * upscale);
    let mut out = cv::resize_lanczos4(input, out_w, out_h);
    let dims = (out_w as usize, out_h as usize);
    let jobs: Vec<Job> = faces
        .iter()
        .enumerate()
        .map(|(index, (face, m))| {
            let inv = inverse_affine(m, upscale);
            Job {
                index,
                inv,
                rect: face_roi(&inv, face.width() as usize, dims, upscale),
            }
        })
        .filter(|j| !j.rect.is_empty())
        .collect();
    for cluster in clusters(&jobs) {
        composite_cluster(&mut out, faces, &cluster, upscale);
    }
    out
}

/// One face to paste: its position in paste order, crop → output matrix and rectangle.
#[derive(Debug, Clone, Copy)]
struct Job {
    index: usize,
    inv: Affine,
    rect: Rect,
}

/// Groups faces whose rectangles overlap (transitively), keeping paste order inside each
/// group: only overlapping faces need a shared float accumulator, and disjoint groups
/// never touch the same pixel, so each group can be blended and truncated on its own
/// bounding box (same result as the reference's single union box, less memory).
fn clusters(jobs: &[Job]) -> Vec<Vec<Job>> {
    let mut groups: Vec<(Rect, Vec<Job>)> = Vec::new();
    for job in jobs {
        let mut bbox = job.rect;
        let mut members = vec![*job];
        // Merge every group the growing box touches, until none does.
        while let Some(pos) = groups.iter().position(|(r, _)| r.overlaps(&bbox)) {
            let (r, mut m) = groups.swap_remove(pos);
            bbox = bbox.union(&r);
            m.append(&mut members);
            members = m;
        }
        groups.push((bbox, members));
    }
    groups
        .into_iter()
        .map(|(_, mut m)| {
            m.sort_by_key(|j| j.index);
            m
        })
        .collect()
}

/// Blends a group of faces, in order, on their bounding box in float64 and writes the
/// truncated result back (`np.clip(acc, 0, 255).astype(uint8)`).
fn composite_cluster(out: &mut RgbImage, faces: &[(RgbImage, Affine)], jobs: &[Job], upscale: u32) {
    let Some(first) = jobs.first() else { return };
    let bbox = jobs.iter().fold(first.rect, |b, j| b.union(&j.rect));
    let (bw, bh) = (bbox.x1 - bbox.x0, bbox.y1 - bbox.y0);
    let ow = out.width() as usize;
    let buf: &mut [u8] = out;
    let mut acc = vec![0f64; bw * bh * 3];
    for (y, row) in acc.chunks_exact_mut(bw * 3).enumerate() {
        let start = ((bbox.y0 + y) * ow + bbox.x0) * 3;
        for (a, &v) in row.iter_mut().zip(&buf[start..start + bw * 3]) {
            *a = f64::from(v);
        }
    }
    for job in jobs {
        let r = job.rect;
        let (rw, rh) = (r.x1 - r.x0, r.y1 - r.y0);
        let local = cv::translate(&job.inv, r.x0 as i64, r.y0 as i64);
        let sf = soft_face(&faces[job.index].0, &local, (rw, rh), upscale);
        let alpha = sf.alpha.as_standard_layout();
        let alpha = alpha.as_slice().unwrap_or(&[]);
        for y in 0..rh {
            let arow = &mut acc[((r.y0 - bbox.y0 + y) * bw + (r.x0 - bbox.x0)) * 3..][..rw * 3];
            for (x, px) in arow.chunks_exact_mut(3).enumerate() {
                let a = f64::from(alpha[y * rw + x]);
                for (c, v) in px.iter_mut().enumerate() {
                    let p = f64::from(sf.pasted[(y * rw + x) * 3 + c]);
                    *v = a * p + (1.0 - a) * *v;
                }
            }
        }
    }
    for (y, row) in acc.chunks_exact(bw * 3).enumerate() {
        let start = ((bbox.y0 + y) * ow + bbox.x0) * 3;
        for (d, &a) in buf[start..start + bw * 3].iter_mut().zip(row) {
            // Truncation, not rounding (brief §1.6 step 8).
            *d = a.clamp(0.0, 255.0) as u8;
        }
    }
}
