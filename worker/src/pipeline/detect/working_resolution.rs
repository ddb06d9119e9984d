//! Face detection at a working resolution: a large photo is shrunk (area resize) until its
//! long side is `max_side`, the detector runs on the copy, the faces are mapped back to
//! source pixels, and a refinement step re-measures them on the full-resolution image.
//!
//! Detector-agnostic: the detector and its refinement are closures, so any detector that
//! returns [`Face`]s in source pixels can run this way. GFPGAN's and CodeFormer's face
//! helper also detect on a resized copy of large photos; a face that fills a few hundred
//! pixels of a 33 MP photo is still tens of pixels wide at 1–2 k, which MTCNN finds, while
//! its pyramid over the full image costs seconds.

use super::super::face::Face;
use super::super::image::cv;
use facefix_shared::time::elapsed_ms;
use image::RgbImage;
use serde::Serialize;
use std::time::Instant;

/// What detecting at the working resolution did, for the detector stats in the metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkingResolution {
    /// The cap asked for (`--detect-max-side`).
    pub max_side: u32,
    /// Size of the copy the detector ran on.
    pub width: u32,
    pub height: u32,
    pub resize_ms: f64,
    /// Detection on the copy (the detector's own stage times are in its stats).
    pub detect_ms: f64,
    pub refine_ms: f64,
    /// Faces whose box and landmarks were re-measured at full resolution.
    pub refined: usize,
    /// Faces kept as found on the copy, mapped back (the refiner rejected them).
    pub kept_unrefined: usize,
}

/// What a refiner returns: the faces in source pixels, and how many of them it could not
/// re-measure and kept as they were mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Refinement {
    pub faces: Vec<Face>,
    pub kept_unrefined: usize,
}

impl Refinement {
    /// A refiner that changes nothing (a detector without a refinement step).
    pub fn unchanged(faces: Vec<Face>) -> Self {
        let kept_unrefined = faces.len();
        Self {
            faces,
            kept_unrefined,
        }
    }
}

/// The working size of a `width`×`height` image under `max_side`: `None` when the cap is
/// off (0) or the image already fits, else the long side at `max_side` and the short one
/// scaled to keep the aspect ratio (at least 1 px).
pub fn working_size(width: u32, height: u32, max_side: u32) -> Option<(u32, u32)> {
    let long = width.max(height);
    if max_side == 0 || long <= max_side {
        return None;
    }
    let shrink = |side: u32| {
        let scaled = (f64::from(side) * f64::from(max_side) / f64::from(long)).round();
        (scaled as u32).clamp(1, max_side)
    };
    Some((shrink(width), shrink(height)))
}

/// Source-per-working pixel scales of each axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub x: f64,
    pub y: f64,
}

impl Scale {
    pub fn between(source: (u32, u32), working: (u32, u32)) -> Self {
        Self {
            x: f64::from(source.0) / f64::from(working.0),
            y: f64::from(source.1) / f64::from(working.1),
        }
    }

    /// A point with pixel centres on integers (the [`Face`] landmarks' convention). The
    /// area resize averages source cell [x·s, (x+1)·s) into working pixel x (edges on
    /// integers), so working centre x + 0.5 is source edge (x + 0.5)·s, source centre
    /// (x + 0.5)·s − 0.5.
    pub fn point(&self, p: [f64; 2]) -> [f64; 2] {
        [(p[0] + 0.5) * self.x - 0.5, (p[1] + 0.5) * self.y - 0.5]
    }

    /// An MTCNN-style box, whose integer corners are 1-based pixel indices (its crop covers
    /// 0-based pixels x1 − 1 ..= x2 − 1): shifted to 0-based, mapped as a point, shifted back.
    pub fn bbox(&self, b: [f64; 4]) -> [f64; 4] {
        let [x1, y1] = self.point([b[0] - 1.0, b[1] - 1.0]);
        let [x2, y2] = self.point([b[2] - 1.0, b[3] - 1.0]);
        [x1 + 1.0, y1 + 1.0, x2 + 1.0, y2 + 1.0]
    }

    /// A face found on the working copy, in source pixels.
    pub fn face(&self, f: &Face) -> Face {
        Face::new(
            self.bbox(f.bbox),
            f.score,
            f.landmarks.map(|p| self.point(p)),
        )
    }
}

/// Detects on `img` directly when `max_side` is 0 or the image fits under it; otherwise on
/// an area-resized copy whose long side is `max_side`, mapping the faces back to source
/// pixels and handing them to `refine` with the full-resolution image. `detect` returns
/// faces plus its own stats, passed through. The third value says what the working
/// resolution did (`None`: detection ran at full resolution, exactly as `detect(img)`).
#[allow(clippy::type_complexity)]
pub fn detect_at_working_resolution<S, E>(
    img: &RgbImage,
    max_side: u32,
    detect: impl FnOnce(&RgbImage) -> Result<(Vec<Face>, S), E>,
    refine: impl FnOnce(&RgbImage, Vec<Face>) -> Result<Refinement, E>,
) -> Result<(Vec<Face>, S, Option<WorkingResolution>), E> {
    let (w, h) = img.dimensions();
    let Some((ww, wh)) = working_size(w, h, max_side) else {
        let (faces, stats) = detect(img)?;
        return Ok((faces, stats, None));
    };
    let t = Instant::now();
    let small = cv::resize_area(img, ww, wh);
    let resize_ms = elapsed_ms(t);
    let t = Instant::now();
    let (found, stats) = detect(&small)?;
    let detect_ms = elapsed_ms(t);
    drop(small);
    let scale = Scale::between((w, h), (ww, wh));
    let mapped = found.iter().map(|f| scale.face(f)).collect();
    let t = Instant::now();
    let refined = refine(img, mapped)?;
    let info = WorkingResolution {
        max_side,
        width: ww,
        height: wh,
        resize_ms,
        detect_ms,
        refine_ms: elapsed_ms(t),
        refined: refined.faces.len() - refined.kept_unrefined.min(refined.faces.len()),
        kept_unrefined: refined.kept_unrefined,
    };
    Ok((refined.faces, stats, Some(info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_size_caps_the_long_side_only_when_needed() {
        assert_eq!(working_size(7680, 4320, 0), None);
        assert_eq!(working_size(7680, 4320, 7680), None);
        assert_eq!(working_size(512, 512, 640), None);
        assert_eq!(working_size(7680, 4320, 1600), Some((1600, 900)));
        assert_eq!(working_size(4320, 7680, 1280), Some((720, 1280)));
        assert_eq!(working_size(10_000, 3, 100), Some((100, 1)));
    }

    #[test]
    fn points_map_with_pixel_centres_on_integers() {
        let s = Scale { x: 4.0, y: 2.0 };
        // Working pixel 0 averages source pixels 0..=3 (x) and 0..=1 (y): its centre is
        // theirs, 1.5 and 0.5.
        assert_eq!(s.point([0.0, 0.0]), [1.5, 0.5]);
        assert_eq!(s.point([10.0, 3.0]), [41.5, 6.5]);
        // 1-based box corners map through their 0-based pixels.
        assert_eq!(s.bbox([1.0, 1.0, 2.0, 2.0]), [2.5, 1.5, 6.5, 3.5]);
    }

    /// A bright square "face" at a known spot: a detector that finds the square's centre
    /// on any image sees it, on the area-resized copy, where the mapping puts it back.
    #[test]
    fn a_synthetic_face_survives_the_round_trip() {
        let (w, h) = (1000, 700);
        let (cx, cy, half) = (613.0, 287.0, 40.0);
        let img = RgbImage::from_fn(w, h, |x, y| {
            let inside = (f64::from(x) - cx).abs() <= half && (f64::from(y) - cy).abs() <= half;
            image::Rgb(if inside { [255; 3] } else { [0; 3] })
        });
        let centre_of_mass = |im: &RgbImage| {
            let (mut sx, mut sy, mut sum) = (0.0, 0.0, 0.0);
            for (x, y, p) in im.enumerate_pixels() {
                let v = f64::from(p[0]);
                sx += v * f64::from(x);
                sy += v * f64::from(y);
                sum += v;
            }
            [sx / sum, sy / sum]
        };
        let detect = |im: &RgbImage| {
            let c = centre_of_mass(im);
            let r = half * f64::from(im.width()) / f64::from(w);
            let face = Face::new(
                [
                    c[0] - r + 1.0,
                    c[1] - r + 1.0,
                    c[0] + r + 1.0,
                    c[1] + r + 1.0,
                ],
                0.99,
                [c; 5],
            );
            Ok::<_, ()>((vec![face], im.width()))
        };
        let (faces, seen_width, info) =
            detect_at_working_resolution(&img, 256, detect, |_, f| Ok(Refinement::unchanged(f)))
                .expect("detect");
        assert_eq!(seen_width, 256, "the detector ran on the copy");
        let info = info.expect("working resolution applied");
        assert_eq!((info.width, info.height), (256, 179));
        assert_eq!((info.refined, info.kept_unrefined), (0, 1));
        let [x, y] = faces[0].landmarks[0];
        // One working pixel is ~3.9 source px; the centre of mass lands within a tenth.
        assert!((x - cx).abs() < 0.4 && (y - cy).abs() < 0.4, "({x}, {y})");
        let b = faces[0].bbox;
        assert!((b[0] - 1.0 - (cx - half)).abs() < 0.5, "{b:?}");
        assert!((b[3] - 1.0 - (cy + half)).abs() < 0.5, "{b:?}");
    }

    #[test]
    fn off_or_small_enough_runs_the_detector_on_the_image_itself() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([9, 9, 9]));
        let face = Face::new([1.0, 2.0, 3.0, 4.0], 0.5, [[1.5, 2.5]; 5]);
        for max_side in [0, 300, 4000] {
            let (faces, ptr, info) = detect_at_working_resolution(
                &img,
                max_side,
                |im| Ok::<_, ()>((vec![face.clone()], std::ptr::eq(im, &img))),
                |_, _| panic!("no refinement at full resolution"),
            )
            .expect("detect");
            assert!(ptr, "max_side {max_side}: the source image itself");
            assert_eq!(faces, vec![face.clone()]);
            assert_eq!(info, None);
        }
    }
}
