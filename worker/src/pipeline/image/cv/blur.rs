//! `cv2.GaussianBlur` on single-channel float images, BORDER_REFLECT_101.
//!
//! Kernel: OpenCV's `getGaussianKernel` — fixed binomial tables for `σ ≤ 0` and
//! `k ∈ {1, 3, 5, 7, 9}`, otherwise the bit-exact double computation
//! (`getGaussianKernelBitExact`: `σ = 0.15·k + 0.35` by fused multiply-add, weights
//! `exp(x²·(−0.125/σ²))` for `x = 1 − k, 3 − k, …`, normalised by their sum), cast to
//! float. Filtering is separable, in float with fused multiply-adds in the order of
//! OpenCV's AVX2 filters, measured against cv2 5.0:
//! * rows: `s = fma(x[i + j], k[j], s)` for `j = 0 .. k` from `s = 0` (`RowVec_32f`);
//!   for k = 3 and 5 the symmetric form (`SymmRowSmallVec_32f`);
//! * columns: symmetric `s = c·k_mid`, then `s = fma(up_j + down_j, k_j, s)` outwards
//!   (`SymmColumnVec_32f`).
//!
//! The vector blocks are 8 floats wide; the last `w % 8` columns of each pass run OpenCV's
//! tail loops (a 4-wide fused block, then unfused scalar code), reproduced too.
//! Identical to cv2 for k = 3 and k ≥ 9; k = 5 and k = 7 differ by one float ulp on a
//! few samples (their small-kernel code paths were not pinned down).

use super::parallel::for_each_row_stripe;
use ndarray::Array2;

/// Fixed kernels OpenCV uses when σ ≤ 0 (`small_gaussian_tab`, plus the 9-tap one).
const SMALL_KERNELS: [&[f32]; 5] = [
    &[1.0],
    &[0.25, 0.5, 0.25],
    &[0.0625, 0.25, 0.375, 0.25, 0.0625],
    &[
        0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
    ],
    &[
        1.0 / 64.0,
        3.25 / 64.0,
        7.5 / 64.0,
        12.75 / 64.0,
        15.0 / 64.0,
        12.75 / 64.0,
        7.5 / 64.0,
        3.25 / 64.0,
        1.0 / 64.0,
    ],
];

/// `round_f32(a·b + c)` with the exact product (a hardware FMA, see `warp.rs`).
#[inline(always)]
fn fma32(a: f32, b: f32, c: f32) -> f32 {
    (f64::from(a) * f64::from(b) + f64::from(c)) as f32
}

/// `getGaussianKernel(n, sigma, CV_32F)` for an odd `n` (an even one is rounded up, as
/// Gaussian blurs only take odd sizes).
pub fn gaussian_kernel(n: usize, sigma: f64) -> Vec<f32> {
    let n = n | 1;
    if sigma <= 0.0 && n <= 9 {
        return SMALL_KERNELS[n / 2].to_vec();
    }
    let sigma = if sigma > 0.0 {
        sigma
    } else {
        (n as f64).mul_add(0.15, 0.35)
    };
    let scale2 = -0.125 / (sigma * sigma);
    let half = n / 2;
    let values: Vec<f64> = (0..half)
        .map(|i| {
            let x = 1 + 2 * i as i64 - n as i64;
            ((x * x) as f64 * scale2).exp()
        })
        .collect();
    // The centre weight is exp(0) = 1; the others come in symmetric pairs.
    let inv_sum = 1.0 / (values.iter().sum::<f64>() * 2.0 + 1.0);
    let mut k = vec![inv_sum as f32; n];
    for (i, v) in values.iter().enumerate() {
        k[i] = (v * inv_sum) as f32;
        k[n - 1 - i] = k[i];
    }
    k
}

/// OpenCV's `borderInterpolate(p, len, BORDER_REFLECT_101)`: `-1 → 1`, `len → len − 2`,
/// reflecting again as long as needed.
fn reflect101(mut p: i64, len: usize) -> usize {
    let len = len as i64;
    if len <= 1 {
        return 0;
    }
    while p < 0 || p >= len {
        p = if p < 0 { -p } else { 2 * (len - 1) - p };
    }
    p as usize
}

/// `cv2.GaussianBlur(src, (ksize, ksize), sigma)`: `ksize == 0` derives it from σ as
/// OpenCV does for float images (`round(8σ + 1) | 1`); `sigma <= 0` derives σ from ksize.
/// An even ksize (OpenCV asserts) is rounded up to the next odd one.
pub fn gaussian_blur(src: &Array2<f32>, ksize: usize, sigma: f64) -> Array2<f32> {
    let (h, w) = src.dim();
    let n = if ksize == 0 {
        ((sigma * 8.0 + 1.0).round_ties_even() as usize) | 1
    } else {
        ksize | 1
    };
    let src = src.as_standard_layout();
    let Some(data) = src.as_slice() else {
        return Array2::zeros((h, w));
    };
    if n == 1 || w == 0 || h == 0 {
        // cv::GaussianBlur copies for a 1×1 kernel.
        return Array2::from_shape_vec((h, w), data.to_vec())
            .unwrap_or_else(|_| Array2::zeros((h, w)));
    }
    let k = gaussian_kernel(n, sigma);
    let r = n / 2;
    // Horizontal pass over every source row.
    let xidx: Vec<usize> = (0..w + 2 * r)
        .map(|i| reflect101(i as i64 - r as i64, w))
        .collect();
    let mut tmp = vec![0f32; w * h];
    for_each_row_stripe(&mut tmp, w, |y0, out| {
        let mut line = vec![0f32; w + 2 * r];
        for (i, orow) in out.chunks_exact_mut(w).enumerate() {
            let y = y0 + i;
            let srow = &data[y * w..(y + 1) * w];
            for (l, &ix) in line.iter_mut().zip(&xidx) {
                *l = srow[ix];
            }
            row_filter(&line, &k, orow);
        }
    });
    // Vertical pass.
    let yidx: Vec<usize> = (0..h + 2 * r)
        .map(|i| reflect101(i as i64 - r as i64, h))
        .collect();
    let mut out = vec![0f32; w * h];
    for_each_row_stripe(&mut out, w, |y0, rows| {
        for (i, orow) in rows.chunks_exact_mut(w).enumerate() {
            let y = y0 + i;
            let row = |j: usize| &tmp[yidx[y + j] * w..(yidx[y + j] + 1) * w];
            let centre = row(r);
            for (o, &c) in orow.iter_mut().zip(centre) {
                *o = c * k[r];
            }
            // Vector blocks fuse the multiply-add; OpenCV's scalar tail does not.
            let tail = vector_end(w);
            for j in 1..=r {
                let (up, down) = (row(r - j), row(r + j));
                for (x, ((o, &a), &b)) in orow.iter_mut().zip(up).zip(down).enumerate() {
                    *o = if x < tail {
                        fma32(a + b, k[r + j], *o)
                    } else {
                        *o + (a + b) * k[r + j]
                    };
                }
            }
        }
    });
    Array2::from_shape_vec((h, w), out).unwrap_or_else(|_| Array2::zeros((h, w)))
}

/// One row through the horizontal kernel; `line` is the row with `r` reflected samples on
/// each side.
fn row_filter(line: &[f32], k: &[f32], out: &mut [f32]) {
    let n = k.len();
    let r = n / 2;
    if n <= 5 {
        for (x, o) in out.iter_mut().enumerate() {
            let c = x + r;
            let mut s = line[c] * k[r];
            for j in 1..=r {
                s = fma32(line[c - j] + line[c + j], k[r + j], s);
            }
            *o = s;
        }
        return;
    }
    // OpenCV's AVX2 row filter: 8-wide FMA blocks, then one 4-wide FMA block, then a
    // scalar loop whose `s += k·x` is not fused.
    let w = out.len();
    let fused_end = vector_end(w) + (w - vector_end(w)) / 4 * 4;
    let (fused, scalar) = out.split_at_mut(fused_end);
    fused.fill(0.0);
    for (j, &kj) in k.iter().enumerate() {
        for (o, &v) in fused.iter_mut().zip(&line[j..]) {
            *o = fma32(v, kj, *o);
        }
    }
    for (i, o) in scalar.iter_mut().enumerate() {
        let x = fused_end + i;
        let mut s = k[0] * line[x];
        for (j, &kj) in k.iter().enumerate().skip(1) {
            s += kj * line[x + j];
        }
        *o = s;
    }
}

/// End of the 8-float AVX2 blocks of a `w`-sample row; the rest is OpenCV's tail.
fn vector_end(w: usize) -> usize {
    w / 8 * 8
}
