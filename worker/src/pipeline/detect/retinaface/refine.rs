//! Refinement after detection at working resolution: a second RetinaFace pass on a
//! full-resolution window around each face found on the shrunk copy. The window is the
//! face box grown by half its long side each way, so the face fills about a quarter to a
//! half of it — where the network's anchors (16–512 px) and landmark head work best — and
//! the landmarks come from source pixels instead of being scaled up from the copy.

use super::RetinaFace;
use super::decode::iou;
use crate::pipeline::detect::working_resolution::{Refinement, detect_at_working_resolution};
use crate::pipeline::error::PipelineError;
use crate::pipeline::face::Face;
use image::RgbImage;

/// How far the window extends past the face box on each side, as a share of its long side.
const WINDOW_MARGIN: f64 = 0.5;
/// A window larger than this (a face that fills much of a large photo) is itself looked
/// at shrunk to this long side: still finer than the working copy, and bounded in cost.
const WINDOW_MAX_SIDE: u32 = 2048;
/// The network's coarsest stride: a window whose origin is on this grid sees its priors
/// where the full-resolution pass had them, so the same face gets the same anchors (off
/// the grid, the regressed landmarks move by up to ~3 px with the offset alone).
const GRID: f64 = 32.0;
/// The second pass's face must overlap the mapped one at least this much to replace it.
const MIN_IOU: f64 = 0.5;

impl RetinaFace {
    /// Each face re-detected on its full-resolution window; a face the second pass does
    /// not find again is kept as mapped (losing a face is worse than a coarser landmark).
    pub fn refine(&self, img: &RgbImage, faces: Vec<Face>) -> Result<Refinement, PipelineError> {
        let mut kept_unrefined = 0;
        let mut out = Vec::with_capacity(faces.len());
        for face in faces {
            match self.refine_one(img, &face)? {
                Some(refined) => out.push(refined),
                None => {
                    kept_unrefined += 1;
                    out.push(face);
                }
            }
        }
        Ok(Refinement {
            faces: out,
            kept_unrefined,
        })
    }

    fn refine_one(&self, img: &RgbImage, face: &Face) -> Result<Option<Face>, PipelineError> {
        let Some((x0, y0, w, h)) = window(face.bbox, img.dimensions()) else {
            return Ok(None);
        };
        let crop = image::imageops::crop_imm(img, x0, y0, w, h).to_image();
        let (found, _, _) = detect_at_working_resolution(
            &crop,
            WINDOW_MAX_SIDE,
            |im| self.detect(im),
            |_, f| Ok(Refinement::unchanged(f)),
        )?;
        let (dx, dy) = (f64::from(x0), f64::from(y0));
        let target = [
            face.bbox[0] - dx,
            face.bbox[1] - dy,
            face.bbox[2] - dx,
            face.bbox[3] - dy,
        ];
        let best = found
            .into_iter()
            .map(|f| (iou(&f.bbox, &target), f))
            .filter(|(o, _)| *o >= MIN_IOU)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        Ok(best.map(|(_, f)| shifted(f, dx, dy)))
    }
}

/// The window around `bbox` inside a `(width, height)` image: x, y, w, h in whole pixels;
/// `None` when it would be under 2 px a side.
fn window(bbox: [f64; 4], (width, height): (u32, u32)) -> Option<(u32, u32, u32, u32)> {
    let margin = (bbox[2] - bbox[0]).max(bbox[3] - bbox[1]).max(0.0) * WINDOW_MARGIN;
    let clamp = |v: f64, hi: u32| v.clamp(0.0, f64::from(hi)) as u32;
    let on_grid = |v: f64| (v / GRID).floor() * GRID;
    let (x0, y0) = (
        clamp(on_grid(bbox[0] - margin), width),
        clamp(on_grid(bbox[1] - margin), height),
    );
    let (x1, y1) = (
        clamp((bbox[2] + margin).ceil(), width),
        clamp((bbox[3] + margin).ceil(), height),
    );
    (x1 >= x0 + 2 && y1 >= y0 + 2).then(|| (x0, y0, x1 - x0, y1 - y0))
}

/// `face` moved by (dx, dy): window pixels back to source pixels (a crop is a pure shift,
/// so the pixel-centre convention is unchanged).
fn shifted(mut face: Face, dx: f64, dy: f64) -> Face {
    face.bbox = [
        face.bbox[0] + dx,
        face.bbox[1] + dy,
        face.bbox[2] + dx,
        face.bbox[3] + dy,
    ];
    for p in &mut face.landmarks {
        p[0] += dx;
        p[1] += dy;
    }
    face
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_grows_the_box_starts_on_the_grid_and_stays_inside() {
        // Origin floored onto the 32 px grid: (70, 170) → (64, 160).
        assert_eq!(
            window([100.0, 200.0, 140.0, 260.0], (1000, 1000)),
            Some((64, 160, 106, 130))
        );
        // Clipped at the image edges.
        assert_eq!(
            window([0.0, 0.0, 40.0, 60.0], (50, 70)),
            Some((0, 0, 50, 70))
        );
        // Outside the image: nothing to look at.
        assert_eq!(window([500.0, 500.0, 510.0, 510.0], (100, 100)), None);
    }

    #[test]
    fn shifting_moves_box_and_landmarks_together() {
        let f = Face::new([1.0, 2.0, 3.0, 4.0], 0.9, [[1.0, 1.0]; 5]);
        let g = shifted(f, 10.0, 20.0);
        assert_eq!(g.bbox, [11.0, 22.0, 13.0, 24.0]);
        assert!(g.landmarks.iter().all(|p| *p == [11.0, 21.0]));
    }
}
