//! Paste-back (brief §1.6, facexlib's square-mask path, `facefix_ref.paste_back`):
//! Lanczos background, then per face, in order, the restored crop and a ones-mask warped
//! back, eroded, blurred, and blended in float64; one truncation to 8 bits at the end.
//!
//! As in the reference (its default), each face is computed on a rectangle around it —
//! the face's support plus the erosion/blur margin — instead of the whole upscaled
//! canvas; warps there use the matrix translated to the rectangle, exactly like the
//! reference, so the numbers are its numbers.

use super::cv::{self, Affine};
use super::mask::{Rect, face_roi, soft_face};
use image::RgbImage;

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

/// Restores the faces into the `upscale`× Lanczos background of `input`.
///
/// `faces`: each restored S×S crop with its affine (input → crop), composited in order.
/// A 0-face call returns exactly `cv2.resize(input, ×upscale, INTER_LANCZOS4)`.
pub fn paste_back(input: &RgbImage, faces: &[(RgbImage, Affine)], upscale: u32) -> RgbImage {
    let (w, h) = input.dimensions();
    paste_back_onto(
        cv::resize_lanczos4(input, w * upscale, h * upscale),
        faces,
        upscale,
    )
}

/// Restores the faces into a background already enlarged `upscale`× (by the background
/// upsampler), in order.
pub fn paste_back_onto(
    background: RgbImage,
    faces: &[(RgbImage, Affine)],
    upscale: u32,
) -> RgbImage {
    let mut out = background;
    let dims = (out.width() as usize, out.height() as usize);
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
