//! From the graph's raw outputs to faces: threshold, top-k, decode, NMS. Every formula
//! is the reference's (`tools/reference/facefix_reference/retinaface.py`), in f64 from
//! the graph's f32, operation for operation.

/// Face probability a prior must exceed (facexlib's default).
pub const SCORE_THRESHOLD: f64 = 0.8;
/// Most candidates (best scores) that go into NMS.
pub const TOP_BEFORE_NMS: usize = 5000;
/// IoU above which a lower-scored box is suppressed.
pub const NMS_IOU: f64 = 0.4;
/// Most faces kept after NMS.
pub const MAX_FACES: usize = 750;
/// The training code's variances: centre offsets and log sizes.
const VARIANCE_CENTRE: f64 = 0.1;
const VARIANCE_SIZE: f64 = 0.2;

/// One decoded candidate, in source pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub bbox: [f64; 4],
    pub score: f64,
    pub landmarks: [[f64; 2]; 5],
}

/// Indices of the priors whose face probability is above the threshold, best first
/// (equal scores keep prior order, like the reference's stable sort), at most
/// [`TOP_BEFORE_NMS`]. Also returns how many passed the threshold.
pub fn select(face_scores: impl Iterator<Item = f32>) -> (Vec<usize>, usize) {
    let mut passed: Vec<(usize, f64)> = face_scores
        .enumerate()
        .map(|(i, s)| (i, f64::from(s)))
        .filter(|&(_, s)| s > SCORE_THRESHOLD)
        .collect();
    let above = passed.len();
    // sort_by is stable: ties stay in index order.
    passed.sort_by(|a, b| b.1.total_cmp(&a.1));
    passed.truncate(TOP_BEFORE_NMS);
    (passed.into_iter().map(|(i, _)| i).collect(), above)
}

/// Box and landmarks of one prior (cx, cy, w, h as image fractions) from its raw
/// offsets, scaled to pixels of a `width` × `height` image.
pub fn decode(
    prior: [f64; 4],
    loc: &[f32],
    landmarks: &[f32],
    width: f64,
    height: f64,
) -> ([f64; 4], [[f64; 2]; 5]) {
    let [pcx, pcy, pw, ph] = prior;
    let l = |k: usize| f64::from(loc[k]);
    let cx = pcx + l(0) * VARIANCE_CENTRE * pw;
    let cy = pcy + l(1) * VARIANCE_CENTRE * ph;
    let w = pw * (l(2) * VARIANCE_SIZE).exp();
    let h = ph * (l(3) * VARIANCE_SIZE).exp();
    let bbox = [
        (cx - w / 2.0) * width,
        (cy - h / 2.0) * height,
        (cx + w / 2.0) * width,
        (cy + h / 2.0) * height,
    ];
    let mut points = [[0.0; 2]; 5];
    for (k, p) in points.iter_mut().enumerate() {
        let (dx, dy) = (f64::from(landmarks[2 * k]), f64::from(landmarks[2 * k + 1]));
        *p = [
            (pcx + dx * VARIANCE_CENTRE * pw) * width,
            (pcy + dy * VARIANCE_CENTRE * ph) * height,
        ];
    }
    (bbox, points)
}

/// Intersection over union of two x1, y1, x2, y2 boxes (areas without the +1); NaN when
/// both are empty.
pub fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let area = |b: &[f64; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / (area(a) + area(b) - inter)
}

/// Greedy NMS over candidates already best first: the kept indices, in order. Areas
/// are (x2 - x1)·(y2 - y1), without facenet's +1 (these boxes are continuous, unlike
/// MTCNN's integer ones); a box goes when its IoU with a kept one is above `threshold`.
pub fn nms(boxes: &[[f64; 4]], threshold: f64) -> Vec<usize> {
    let mut alive = vec![true; boxes.len()];
    let mut keep = Vec::new();
    for i in 0..boxes.len() {
        if !alive[i] {
            continue;
        }
        keep.push(i);
        let a = &boxes[i];
        for j in i + 1..boxes.len() {
            if !alive[j] {
                continue;
            }
            let iou = iou(a, &boxes[j]);
            // A NaN IoU (degenerate boxes) removes the box too, as the reference's
            // `rest[iou <= threshold]` does.
            if iou.is_nan() || iou > threshold {
                alive[j] = false;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_thresholds_sorts_and_keeps_ties_in_prior_order() {
        // Compared in f64 like the reference: 0.7999 fails, and f32 0.8 (0.800000012) passes.
        let scores = [0.5f32, 0.9, 0.81, 0.7999, 0.9, 0.95, 0.8];
        let (order, above) = select(scores.into_iter());
        assert_eq!(above, 5);
        let scores = [0.5f32, 0.9, 0.81, 0.7999, 0.9, 0.95];
        let (order_without, _) = select(scores.into_iter());
        assert_eq!(order_without, vec![5, 1, 4, 2]);
        assert_eq!(order, vec![5, 1, 4, 2, 6]);
    }

    #[test]
    fn decodes_a_hand_made_offset() {
        // A 100×50 image, prior at (0.5, 0.5) of size 0.2 × 0.4 (20 × 20 px).
        let prior = [0.5, 0.5, 0.2, 0.4];
        let loc = [1.0f32, -2.0, 0.0, 5.0];
        let lm = [0.0f32, 0.0, 10.0, 0.0, 0.0, -5.0, 1.0, 1.0, -1.0, 2.0];
        let (b, p) = decode(prior, &loc, &lm, 100.0, 50.0);
        // cx = 0.5 + 1·0.1·0.2 = 0.52 → 52 px; cy = 0.5 - 2·0.1·0.4 = 0.42 → 21 px;
        // w = 0.2·e^0 = 0.2 → 20 px; h = 0.4·e^1 → 20e px.
        let h = 0.4 * 1f64.exp() * 50.0;
        let want = [42.0, 21.0 - h / 2.0, 62.0, 21.0 + h / 2.0];
        for k in 0..4 {
            assert!((b[k] - want[k]).abs() < 1e-9, "{b:?} vs {want:?}");
        }
        let want_points = [
            [50.0, 25.0],
            [70.0, 25.0],
            [50.0, 15.0],
            [52.0, 27.0],
            [48.0, 29.0],
        ];
        for (got, want) in p.iter().zip(want_points) {
            assert!(
                (got[0] - want[0]).abs() < 1e-9 && (got[1] - want[1]).abs() < 1e-9,
                "{p:?}"
            );
        }
    }

    #[test]
    fn nms_keeps_order_and_suppresses_above_the_iou() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            // IoU with the first: 50 / 150 = 0.33: kept
            [5.0, 0.0, 15.0, 10.0],
            // IoU with the first: 60 / 100 = 0.6: suppressed
            [0.0, 0.0, 10.0, 6.0],
            [100.0, 100.0, 110.0, 110.0],
            // same as the previous: suppressed by it
            [100.0, 100.0, 110.0, 110.0],
        ];
        assert_eq!(nms(&boxes, NMS_IOU), vec![0, 1, 3]);
        // Without +1 areas: touching boxes do not overlap.
        assert_eq!(
            nms(&[[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]], 0.0),
            vec![0, 1]
        );
    }
}
