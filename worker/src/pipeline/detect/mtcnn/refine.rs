//! MTCNN's refinement of faces found on a working-resolution copy: ONet alone, on
//! full-resolution crops around each face (the cascade's own square box and 48×48 area
//! crop), so box and landmarks come from full-resolution pixels.

use super::{Mtcnn, Net, THRESHOLDS, boxes, onet_face, onet_nms};
use crate::pipeline::detect::working_resolution::Refinement;
use crate::pipeline::error::PipelineError;
use crate::pipeline::face::Face;
use image::RgbImage;

impl Mtcnn {
    /// Re-measures `faces` (boxes in `img`'s pixels, found elsewhere) with ONet on `img`.
    /// A face ONet rejects at full resolution is kept as it was given: the cascade found it
    /// on the copy, and losing a face costs more than a landmark a pixel or two off (on the
    /// test photos ONet rejects none; see docs/pipeline.md). Blocks on the detector
    /// threads.
    pub fn refine(&self, img: &RgbImage, faces: Vec<Face>) -> Result<Refinement, PipelineError> {
        // The box ONet saw in the cascade: squared around the face, then truncated.
        let cand = boxes::trunc(&boxes::square(
            &faces.iter().map(|f| f.bbox).collect::<Vec<_>>(),
        ));
        // Degenerate boxes have no crop (run_crops would drop them and lose the order).
        let (croppable, degenerate): (Vec<usize>, Vec<usize>) =
            (0..faces.len()).partition(|&i| cand[i][2] >= cand[i][0] && cand[i][3] >= cand[i][1]);
        let picked: Vec<[f64; 4]> = croppable.iter().map(|&i| cand[i]).collect();
        let (seen, prob, reg, lm) = self.run_crops(Net::O, img, picked, 48)?;
        if seen.len() != croppable.len() {
            return Err(PipelineError::Internal(format!(
                "ONet refinement cropped {} of {} boxes",
                seen.len(),
                croppable.len()
            )));
        }
        // (face, refined at full resolution)
        let mut out: Vec<(Face, bool)> = Vec::with_capacity(faces.len());
        for (k, &i) in croppable.iter().enumerate() {
            if prob[k] > THRESHOLDS[2] {
                out.push((onet_face(&seen[k], prob[k], &reg[k], &lm[k]), true));
            } else {
                out.push((faces[i].clone(), false));
            }
        }
        out.extend(degenerate.iter().map(|&i| (faces[i].clone(), false)));
        // Two faces of the copy may settle on one at full resolution.
        let found: Vec<Face> = out.iter().map(|(f, _)| f.clone()).collect();
        let pick = onet_nms(&found);
        let kept_unrefined = pick.iter().filter(|&&i| !out[i].1).count();
        tracing::debug!(
            faces = pick.len(),
            merged = out.len() - pick.len(),
            kept_unrefined,
            "refined the faces at full resolution"
        );
        let faces = pick.into_iter().map(|i| out[i].0.clone()).collect();
        Ok(Refinement {
            faces,
            kept_unrefined,
        })
    }
}
