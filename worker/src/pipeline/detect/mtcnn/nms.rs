//! MTCNN's greedy non-maximum suppression (facenet flavour: +1-pixel areas).

/// How overlap is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller area (ONet's final pass).
    Min,
}

/// Kept indices, in pick order. Order: score descending, ties by lower index first
/// (stable). A box is suppressed when its overlap with a picked box is > `threshold`;
/// a NaN overlap (zero-area boxes) suppresses too, as numpy's comparison does.
pub fn nms(boxes: &[[f64; 4]], scores: &[f64], threshold: f64, mode: Overlap) -> Vec<usize> {
    let area: Vec<f64> = boxes
        .iter()
        .map(|b| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0))
        .collect();
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // `sort_by` is stable; comparing -score like numpy's argsort(-scores, kind="stable").
    order.sort_by(|&a, &b| (-scores[a]).total_cmp(&(-scores[b])));
    let mut keep = Vec::new();
    while let Some((&i, rest)) = order.split_first() {
        keep.push(i);
        let bi = boxes[i];
        order = rest
            .iter()
            .copied()
            .filter(|&j| {
                let bj = boxes[j];
                let w = (bi[2].min(bj[2]) - bi[0].max(bj[0]) + 1.0).max(0.0);
                let h = (bi[3].min(bj[3]) - bi[1].max(bj[1]) + 1.0).max(0.0);
                let inter = w * h;
                let o = match mode {
                    Overlap::Union => inter / (area[i] + area[j] - inter),
                    Overlap::Min => inter / area[i].min(area[j]),
                };
                o <= threshold
            })
            .collect();
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppresses_overlaps_by_score() {
        let boxes = [
            [0.0, 0.0, 9.0, 9.0],
            [1.0, 1.0, 10.0, 10.0],
            [50.0, 50.0, 59.0, 59.0],
        ];
        assert_eq!(
            nms(&boxes, &[0.8, 0.9, 0.7], 0.5, Overlap::Union),
            vec![1, 2]
        );
        // IoU of the first two is 81/119 = 0.68: kept at 0.7
        assert_eq!(
            nms(&boxes, &[0.8, 0.9, 0.7], 0.7, Overlap::Union),
            vec![1, 0, 2]
        );
    }

    #[test]
    fn min_mode_removes_nested_boxes() {
        let boxes = [[0.0, 0.0, 99.0, 99.0], [10.0, 10.0, 19.0, 19.0]];
        assert_eq!(nms(&boxes, &[0.9, 0.8], 0.7, Overlap::Union), vec![0, 1]);
        assert_eq!(nms(&boxes, &[0.9, 0.8], 0.7, Overlap::Min), vec![0]);
    }

    #[test]
    fn ties_keep_index_order() {
        let boxes = [
            [0.0, 0.0, 1.0, 1.0],
            [10.0, 10.0, 11.0, 11.0],
            [20.0, 20.0, 21.0, 21.0],
        ];
        assert_eq!(
            nms(&boxes, &[0.5, 0.7, 0.5], 0.5, Overlap::Union),
            vec![1, 0, 2]
        );
    }
}
