//! RetinaFace's priors (anchors), in the order of the graph's outputs: per stride 8, 16,
//! 32, the cells of its feature map row by row (ceil(H/step) × ceil(W/step)), both sizes
//! of a cell one after the other. Computed on demand: a 33 MP photo has 1.4 million.

/// Feature-map strides and the two anchor sizes (px) at each.
pub const LEVELS: [(u32, [f64; 2]); 3] =
    [(8, [16.0, 32.0]), (16, [64.0, 128.0]), (32, [256.0, 512.0])];

/// The priors of one input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priors {
    width: u32,
    height: u32,
}

/// One feature map: its stride, anchor sizes, columns, and the index of its first prior.
struct Level {
    step: u32,
    sizes: [f64; 2],
    cols: usize,
    start: usize,
}

impl Priors {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    fn levels(&self) -> impl Iterator<Item = (Level, usize)> + '_ {
        let mut start = 0;
        LEVELS.iter().map(move |&(step, sizes)| {
            let rows = self.height.div_ceil(step) as usize;
            let cols = self.width.div_ceil(step) as usize;
            let level = Level {
                step,
                sizes,
                cols,
                start,
            };
            let count = rows * cols * sizes.len();
            start += count;
            (level, count)
        })
    }

    /// How many priors the graph returns for this input size.
    pub fn count(&self) -> usize {
        self.levels().map(|(_, n)| n).sum()
    }

    /// Prior `index` as cx, cy, w, h, fractions of the image width / height (the
    /// training code's form, kept so the decode is the same arithmetic as the reference).
    pub fn get(&self, index: usize) -> Option<[f64; 4]> {
        let (level, _) = self
            .levels()
            .find(|(l, n)| index >= l.start && index < l.start + n)?;
        let local = index - level.start;
        let (cell, which) = (local / 2, local % 2);
        let (i, j) = (cell / level.cols, cell % level.cols);
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let step = f64::from(level.step);
        let size = level.sizes[which];
        Some([
            (j as f64 + 0.5) * step / w,
            (i as f64 + 0.5) * step / h,
            size / w,
            size / h,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_what_the_graph_returns() {
        // Measured on the ONNX graph (outputs' P) for these W×H, odd sizes included.
        for (w, h, p) in [
            (32, 32, 42),
            (96, 64, 252),
            (100, 100, 468),
            (64, 75, 212),
            (24, 28, 34),
            (512, 512, 10752),
            (517, 333, 7220),
            (31, 31, 42),
            (1, 1, 6),
            (200, 17, 216),
        ] {
            assert_eq!(Priors::new(w, h).count(), p, "{w}x{h}");
        }
    }

    #[test]
    fn first_and_last_priors() {
        let p = Priors::new(100, 50);
        // stride 8: 7 rows × 13 columns × 2 = 182; stride 16: 4 × 7 × 2 = 56; 32: 2 × 4 × 2
        assert_eq!(p.count(), 182 + 56 + 16);
        assert_eq!(
            p.get(0),
            Some([4.0 / 100.0, 4.0 / 50.0, 16.0 / 100.0, 16.0 / 50.0])
        );
        assert_eq!(
            p.get(1),
            Some([4.0 / 100.0, 4.0 / 50.0, 32.0 / 100.0, 32.0 / 50.0])
        );
        // second cell of the first row
        assert_eq!(p.get(2).map(|v| v[0]), Some(12.0 / 100.0));
        // first prior of stride 16
        assert_eq!(
            p.get(182),
            Some([8.0 / 100.0, 8.0 / 50.0, 64.0 / 100.0, 64.0 / 50.0])
        );
        // the last: stride 32, row 1, column 3, size 512
        assert_eq!(
            p.get(253),
            Some([112.0 / 100.0, 48.0 / 50.0, 512.0 / 100.0, 512.0 / 50.0])
        );
        assert_eq!(p.get(254), None);
    }
}
