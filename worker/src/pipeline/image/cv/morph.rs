//! `cv2.erode(src, np.ones((k, k)))` on single-channel float images.
//!
//! A rectangular all-ones kernel is separable: the k×k minimum is a horizontal k-minimum
//! followed by a vertical one (OpenCV does the same for rect kernels). OpenCV's defaults
//! are kept: anchor at `k / 2` (for even k the window is `x − k/2 ..= x + k/2 − 1`), an
//! empty kernel means 3×3, and the border is `morphologyDefaultBorderValue()` (+∞ for
//! erosion), i.e. pixels outside the image never win the minimum. A minimum is exact, so
//! the result is bit-identical to OpenCV's.

use super::parallel::for_each_row_stripe;
use ndarray::Array2;

/// Erodes with a `k × k` rectangle of ones (`k == 0` ⇒ OpenCV's default 3×3).
pub fn erode(src: &Array2<f32>, k: usize) -> Array2<f32> {
    let k = if k == 0 { 3 } else { k };
    let (h, w) = src.dim();
    let src = src.as_standard_layout();
    let Some(data) = src.as_slice() else {
        return Array2::zeros((h, w));
    };
    if k == 1 || w == 0 || h == 0 {
        return Array2::from_shape_vec((h, w), data.to_vec())
            .unwrap_or_else(|_| Array2::zeros((h, w)));
    }
    let anchor = k / 2;
    let mut rows = vec![0f32; w * h];
    for_each_row_stripe(&mut rows, w, |y0, out| {
        let mut scratch = Scratch::new(w, k);
        for (i, orow) in out.chunks_exact_mut(w).enumerate() {
            let y = y0 + i;
            scratch.window_min(&data[y * w..(y + 1) * w], anchor, orow);
        }
    });
    let t = transpose(&rows, w, h);
    let mut cols = vec![0f32; w * h];
    for_each_row_stripe(&mut cols, h, |x0, out| {
        let mut scratch = Scratch::new(h, k);
        for (i, orow) in out.chunks_exact_mut(h).enumerate() {
            let x = x0 + i;
            scratch.window_min(&t[x * h..(x + 1) * h], anchor, orow);
        }
    });
    let out = transpose(&cols, h, w);
    Array2::from_shape_vec((h, w), out).unwrap_or_else(|_| Array2::zeros((h, w)))
}

/// `h × w` → `w × h`, in cache-friendly tiles.
fn transpose(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0f32; w * h];
    for by in (0..h).step_by(TILE) {
        for bx in (0..w).step_by(TILE) {
            for y in by..(by + TILE).min(h) {
                for x in bx..(bx + TILE).min(w) {
                    out[x * h + y] = src[y * w + x];
                }
            }
        }
    }
    out
}

/// Buffers of the van Herk / Gil–Werman running minimum (3 comparisons per sample,
/// whatever the window length).
struct Scratch {
    k: usize,
    padded: Vec<f32>,
    prefix: Vec<f32>,
    suffix: Vec<f32>,
}

impl Scratch {
    fn new(n: usize, k: usize) -> Self {
        let len = n + k - 1;
        Self {
            k,
            padded: vec![f32::INFINITY; len],
            prefix: vec![0.0; len],
            suffix: vec![0.0; len],
        }
    }

    /// `out[x] = min(line[x − anchor ..= x − anchor + k − 1])`, ignoring indices outside.
    fn window_min(&mut self, line: &[f32], anchor: usize, out: &mut [f32]) {
        let (n, k) = (line.len(), self.k);
        let len = n + k - 1;
        self.padded[..len].fill(f32::INFINITY);
        self.padded[anchor..anchor + n].copy_from_slice(line);
        let p = &self.padded[..len];
        for (b, chunk) in p.chunks(k).enumerate() {
            let base = b * k;
            let mut m = f32::INFINITY;
            for (j, &v) in chunk.iter().enumerate() {
                m = m.min(v);
                self.prefix[base + j] = m;
            }
            let mut m = f32::INFINITY;
            for (j, &v) in chunk.iter().enumerate().rev() {
                m = m.min(v);
                self.suffix[base + j] = m;
            }
        }
        for (x, o) in out.iter_mut().enumerate() {
            // Window [x, x + k − 1] of the padded line: the suffix of x's block and the
            // prefix of the block holding x + k − 1.
            *o = self.suffix[x].min(self.prefix[x + k - 1]);
        }
    }
}
