//! A detected face and the face filter applied before restoration.

pub use super::image::cv::Affine;
use serde::Serialize;

/// Eyes closer than this (px) are not worth restoring (facexlib's `eye_dist_threshold`).
pub const EYE_DIST_THRESHOLD: f64 = 5.0;

/// One face: MTCNN's box and landmarks in pixels of the upright input (pixel centres on
/// integers, OpenCV's convention), plus the transforms used to restore it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Face {
    /// x1, y1, x2, y2 (float, not clipped to the image).
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    pub score: f64,
    /// Left eye, right eye, nose, mouth left, mouth right (image-left / image-right).
    pub landmarks: [[f64; 2]; 5],
    /// Input → S×S crop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affine: Option<Affine>,
    /// Crop → output (with the upscale and facexlib's +0.5·upscale shift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inverse_affine: Option<Affine>,
}

impl Face {
    pub fn new(bbox: [f64; 4], score: f64, landmarks: [[f64; 2]; 5]) -> Self {
        Self {
            bbox,
            score,
            landmarks,
            affine: None,
            inverse_affine: None,
        }
    }

    /// Distance between the two eyes, px.
    pub fn eye_distance(&self) -> f64 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        (l[0] - r[0]).hypot(l[1] - r[1])
    }

    fn box_centre(&self) -> (f64, f64) {
        let b = self.bbox;
        ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
    }
}

/// facexlib's order: drop faces whose eyes are under 5 px apart, then, with
/// `only_center_face`, keep the one whose box centre is nearest (W/2, H/2) (first on ties).
pub fn filter_faces(
    faces: Vec<Face>,
    width: u32,
    height: u32,
    only_center_face: bool,
) -> Vec<Face> {
    let mut kept: Vec<Face> = faces
        .into_iter()
        .filter(|f| f.eye_distance() >= EYE_DIST_THRESHOLD)
        .collect();
    if only_center_face && kept.len() > 1 {
        let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
        let dist = |f: &Face| {
            let (x, y) = f.box_centre();
            (x - cx).hypot(y - cy)
        };
        let mut best = 0;
        for i in 1..kept.len() {
            if dist(&kept[i]) < dist(&kept[best]) {
                best = i;
            }
        }
        kept = vec![kept.swap_remove(best)];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f64, eye_gap: f64) -> Face {
        Face::new(
            [x, 0.0, x + 10.0, 10.0],
            0.9,
            [
                [x, 5.0],
                [x + eye_gap, 5.0],
                [x, 6.0],
                [x, 7.0],
                [x + 1.0, 7.0],
            ],
        )
    }

    #[test]
    fn drops_close_eyes_then_keeps_the_centre_face() {
        let faces = vec![
            face(0.0, 6.0),
            face(45.0, 4.9),
            face(60.0, 5.0),
            face(90.0, 8.0),
        ];
        let all = filter_faces(faces.clone(), 100, 10, false);
        assert_eq!(all.len(), 3);
        let centre = filter_faces(faces, 100, 10, true);
        assert_eq!(centre.len(), 1);
        assert_eq!(centre[0].bbox[0], 60.0);
    }

    #[test]
    fn centre_ties_keep_the_first() {
        let faces = vec![face(40.0, 6.0), face(40.0, 7.0)];
        let c = filter_faces(faces, 90, 10, true);
        assert_eq!(c[0].landmarks[1][0], 46.0);
    }
}
