//! The separable resize engine behind INTER_LINEAR, INTER_LANCZOS4 and enlarging
//! INTER_AREA (`resizeGeneric_` in OpenCV's `resize.cpp`).
//!
//! Per axis, every destination index gets `ksize` source taps and float coefficients
//! computed exactly as OpenCV does (same float/double mix). For `u8` the coefficients are
//! rounded to 11-bit fixed point (`INTER_RESIZE_COEF_BITS`), rows are resampled
//! horizontally into `i32` and combined vertically with OpenCV's rounding; `f32` images
//! use the float coefficients throughout.

use super::parallel::for_each_row_stripe;
use super::sample::{Sample, sat_u8};
use std::collections::VecDeque;

/// `INTER_RESIZE_COEF_BITS`: fixed-point precision of the `u8` coefficients.
const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interp {
    /// INTER_LINEAR: pixel-centre mapping.
    Linear,
    /// INTER_AREA when enlarging: bilinear with OpenCV's area-style coefficients.
    LinearArea,
    /// INTER_LANCZOS4: 8 taps.
    Lanczos4,
}

impl Interp {
    fn ksize(self) -> usize {
        match self {
            Interp::Linear | Interp::LinearArea => 2,
            Interp::Lanczos4 => 8,
        }
    }
}

/// `interpolateLanczos4`: sinc-windowed weights from a sin/cos recurrence in double,
/// stored as float and normalised by their float sum.
fn lanczos4_coeffs(x: f32) -> [f32; 8] {
    // OpenCV special-cases a zero phase (the formula would divide by zero).
    if x < f32::EPSILON {
        let mut c = [0.0; 8];
        c[3] = 1.0;
        return c;
    }
    const S45: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const CS: [[f64; 2]; 8] = [
        [1.0, 0.0],
        [-S45, -S45],
        [0.0, 1.0],
        [S45, -S45],
        [-1.0, 0.0],
        [S45, S45],
        [0.0, -1.0],
        [-S45, S45],
    ];
    let xd = f64::from(x);
    let y0 = -(xd + 3.0) * std::f64::consts::PI * 0.25;
    let (s0, c0) = (y0.sin(), y0.cos());
    let mut c = [0f32; 8];
    let mut sum = 0f32;
    for (i, ci) in c.iter_mut().enumerate() {
        let y = -(xd + 3.0 - i as f64) * std::f64::consts::PI * 0.25;
        *ci = ((CS[i][0] * s0 + CS[i][1] * c0) / (y * y)) as f32;
        sum += *ci;
    }
    let inv = 1.0f32 / sum;
    for ci in &mut c {
        *ci *= inv;
    }
    c
}

/// Taps of one axis: `idx[d * ksize + k]` (already clamped into the source, i.e.
/// replicated borders) and `coef[d * ksize + k]`.
pub(crate) struct AxisTaps {
    pub ksize: usize,
    pub idx: Vec<usize>,
    pub coef: Vec<f32>,
}

/// Builds the taps of one axis. `horizontal` matters for the linear kernels: OpenCV pins
/// the phase to 0 at the left/right borders (`xmin`/`xmax`) but not at the top/bottom,
/// where the two clamped rows keep their weights.
fn axis_taps(ssize: usize, dsize: usize, interp: Interp, horizontal: bool) -> AxisTaps {
    let inv_scale = dsize as f64 / ssize as f64;
    let scale = 1.0 / inv_scale;
    let ksize = interp.ksize();
    let ksize2 = (ksize / 2) as i64;
    let last = ssize as i64 - 1;
    let mut idx = Vec::with_capacity(dsize * ksize);
    let mut coef = Vec::with_capacity(dsize * ksize);
    for d in 0..dsize {
        let (mut s, mut f) = if interp == Interp::LinearArea {
            let s = (d as f64 * scale).floor() as i64;
            let f = ((d + 1) as f64 - (s + 1) as f64 * inv_scale) as f32;
            (s, if f <= 0.0 { 0.0 } else { f - f.floor() })
        } else {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let s = f.floor();
            (s as i64, f - s)
        };
        if horizontal && interp != Interp::Lanczos4 {
            if s < 0 {
                (s, f) = (0, 0.0);
            }
            if s >= last {
                (s, f) = (last, 0.0);
            }
        }
        let c: [f32; 8] = match interp {
            Interp::Lanczos4 => lanczos4_coeffs(f),
            Interp::Linear | Interp::LinearArea => [1.0 - f, f, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        };
        for (k, ck) in c.iter().enumerate().take(ksize) {
            idx.push((s - ksize2 + 1 + k as i64).clamp(0, last) as usize);
            coef.push(*ck);
        }
    }
    AxisTaps { ksize, idx, coef }
}

/// Per-type arithmetic of the engine.
pub(crate) trait Separable: Sample {
    /// Horizontal accumulator (`int` for `u8`, `float` for `f32`).
    type Acc: Copy + Default + Send + Sync;
    /// Coefficient as used by the kernels (11-bit fixed point for `u8`).
    type Coef: Copy + Send + Sync;
    fn coef(c: f32) -> Self::Coef;
    /// One source row resampled horizontally (`out.len() == dw * cn`).
    fn h_row(
        src: &[Self],
        cn: usize,
        ksize: usize,
        idx: &[usize],
        coef: &[Self::Coef],
        out: &mut [Self::Acc],
    );
    /// One destination row from `rows.len()` horizontally resampled rows.
    fn v_row(rows: &[&[Self::Acc]], beta: &[Self::Coef], interp: Interp, out: &mut [Self]);
}

impl Separable for u8 {
    type Acc = i32;
    type Coef = i32;
    fn coef(c: f32) -> i32 {
        // saturate_cast<short>(c * INTER_RESIZE_COEF_SCALE): cvRound, half to even.
        (c * COEF_SCALE).round_ties_even().clamp(-32768.0, 32767.0) as i32
    }
    fn h_row(src: &[u8], cn: usize, ksize: usize, idx: &[usize], coef: &[i32], out: &mut [i32]) {
        if ksize == 8 && cn == 3 {
            h_row_lanczos_rgb(src, idx, coef, out);
            return;
        }
        for (d, o) in out.chunks_exact_mut(cn).enumerate() {
            let taps = &idx[d * ksize..(d + 1) * ksize];
            let cs = &coef[d * ksize..(d + 1) * ksize];
            for (c, oc) in o.iter_mut().enumerate() {
                let mut acc = 0i32;
                for (&s, &w) in taps.iter().zip(cs) {
                    acc = acc.wrapping_add(i32::from(src[s * cn + c]).wrapping_mul(w));
                }
                *oc = acc;
            }
        }
    }
    fn v_row(rows: &[&[i32]], beta: &[i32], interp: Interp, out: &mut [u8]) {
        match rows {
            [r0, r1] if interp != Interp::Lanczos4 => v_linear_u8(r0, r1, beta[0], beta[1], out),
            _ => v_generic_u8(rows, beta, out),
        }
    }
}

/// Horizontal 8-tap pass on RGB: taps are usually 8 consecutive pixels (replicated
/// only near the borders), read as one 24-byte window. Clamped tap indices never step by
/// more than 1, so `last == first + 7` means all eight are consecutive.
fn h_row_lanczos_rgb(src: &[u8], idx: &[usize], coef: &[i32], out: &mut [i32]) {
    for ((o, taps), cs) in out
        .chunks_exact_mut(3)
        .zip(idx.chunks_exact(8))
        .zip(coef.chunks_exact(8))
    {
        let first = taps[0];
        let window = if taps[7] == first + 7 {
            src.get(first * 3..first * 3 + 24)
        } else {
            None
        };
        let mut acc = [0i32; 3];
        match window {
            Some(win) => {
                for (px, &c) in win.chunks_exact(3).zip(cs) {
                    for (a, &v) in acc.iter_mut().zip(px) {
                        *a = a.wrapping_add(i32::from(v).wrapping_mul(c));
                    }
                }
            }
            None => {
                for (&s, &c) in taps.iter().zip(cs) {
                    for (ch, a) in acc.iter_mut().enumerate() {
                        *a = a.wrapping_add(i32::from(src[s * 3 + ch]).wrapping_mul(c));
                    }
                }
            }
        }
        o.copy_from_slice(&acc);
    }
}

/// Vertical pass of the 8-bit linear resize, as OpenCV's vector path
/// (`VResizeLinearVec_32s8u`) computes it: the row sums are pre-shifted by 4 and packed
/// to i16, only the high 16 bits of each product are kept, and the sum is rounded with
/// `+2 >> 2`. This differs by 1 LSB from the exact `(Σ + 2^21) >> 22` on about a tenth
/// of the samples; measured against cv2 5.0, every sample of a row (tail included) follows
/// the vector formula.
fn v_linear_u8(r0: &[i32], r1: &[i32], b0: i32, b1: i32, out: &mut [u8]) {
    let mul_hi = |a: i32, b: i32| -> i32 { ((a >> 4).clamp(-32768, 32767) * b) >> 16 };
    for ((o, &a), &b) in out.iter_mut().zip(r0).zip(r1) {
        *o = sat_u8((mul_hi(a, b0) + mul_hi(b, b1) + 2) >> 2);
    }
}

/// `VResizeLanczos4` with `FixedPtCast<int, uchar, 22>` (OpenCV has no vector path for
/// it): `(Σ row_k·β_k + 2^21) >> 22`, saturated. Integer sums are exact in any order, so
/// the loop is free to be vectorised.
fn v_generic_u8(rows: &[&[i32]], beta: &[i32], out: &mut [u8]) {
    let n = out.len();
    if let ([r0, r1, r2, r3, r4, r5, r6, r7], &[b0, b1, b2, b3, b4, b5, b6, b7]) = (rows, beta) {
        let (r0, r1, r2, r3) = (&r0[..n], &r1[..n], &r2[..n], &r3[..n]);
        let (r4, r5, r6, r7) = (&r4[..n], &r5[..n], &r6[..n], &r7[..n]);
        for x in 0..n {
            let lo = r0[x]
                .wrapping_mul(b0)
                .wrapping_add(r1[x].wrapping_mul(b1))
                .wrapping_add(r2[x].wrapping_mul(b2))
                .wrapping_add(r3[x].wrapping_mul(b3));
            let hi = r4[x]
                .wrapping_mul(b4)
                .wrapping_add(r5[x].wrapping_mul(b5))
                .wrapping_add(r6[x].wrapping_mul(b6))
                .wrapping_add(r7[x].wrapping_mul(b7));
            out[x] = sat_u8(lo.wrapping_add(hi).wrapping_add(1 << 21) >> 22);
        }
        return;
    }
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0i32;
        for (r, b) in rows.iter().zip(beta) {
            acc = acc.wrapping_add(r[x].wrapping_mul(*b));
        }
        *o = sat_u8(acc.wrapping_add(1 << 21) >> 22);
    }
}

impl Separable for f32 {
    type Acc = f32;
    type Coef = f32;
    fn coef(c: f32) -> f32 {
        c
    }
    fn h_row(src: &[f32], cn: usize, ksize: usize, idx: &[usize], coef: &[f32], out: &mut [f32]) {
        for (d, o) in out.chunks_exact_mut(cn).enumerate() {
            let taps = &idx[d * ksize..(d + 1) * ksize];
            let cs = &coef[d * ksize..(d + 1) * ksize];
            for (c, oc) in o.iter_mut().enumerate() {
                // Left-to-right float sum, as HResizeLinear / HResizeLanczos4 write it.
                let mut acc = src[taps[0] * cn + c] * cs[0];
                for (&s, &w) in taps.iter().zip(cs).skip(1) {
                    acc += src[s * cn + c] * w;
                }
                *oc = acc;
            }
        }
    }
    fn v_row(rows: &[&[f32]], beta: &[f32], _interp: Interp, out: &mut [f32]) {
        for (x, o) in out.iter_mut().enumerate() {
            let mut acc = rows[0][x] * beta[0];
            for (r, b) in rows.iter().zip(beta).skip(1) {
                acc += r[x] * b;
            }
            *o = acc;
        }
    }
}

/// Resizes an interleaved `cn`-channel image with a separable kernel.
pub(crate) fn resize_separable<T: Separable>(
    src: &[T],
    (sw, sh): (usize, usize),
    cn: usize,
    (dw, dh): (usize, usize),
    interp: Interp,
) -> Vec<T> {
    if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
        return Vec::new();
    }
    let xt = axis_taps(sw, dw, interp, true);
    let yt = axis_taps(sh, dh, interp, false);
    let xcoef: Vec<T::Coef> = xt.coef.iter().map(|&c| T::coef(c)).collect();
    let ycoef: Vec<T::Coef> = yt.coef.iter().map(|&c| T::coef(c)).collect();
    let ksize = yt.ksize;
    let row_len = dw * cn;
    let srow_len = sw * cn;
    let mut out = vec![T::default(); row_len * dh];
    for_each_row_stripe(&mut out, row_len, |y0, rows| {
        // Horizontally resampled source rows, keyed by source row; the rows a destination
        // row needs only move forward, so a window of `ksize` rows is enough.
        let mut cache: VecDeque<(usize, Vec<T::Acc>)> = VecDeque::with_capacity(ksize + 1);
        for (i, drow) in rows.chunks_exact_mut(row_len).enumerate() {
            let dy = y0 + i;
            let need = &yt.idx[dy * ksize..(dy + 1) * ksize];
            for &sy in need {
                if cache.iter().any(|(r, _)| *r == sy) {
                    continue;
                }
                let mut buf = if cache.len() > ksize {
                    cache.pop_front().map(|(_, b)| b).unwrap_or_default()
                } else {
                    vec![T::Acc::default(); row_len]
                };
                T::h_row(
                    &src[sy * srow_len..(sy + 1) * srow_len],
                    cn,
                    xt.ksize,
                    &xt.idx,
                    &xcoef,
                    &mut buf,
                );
                cache.push_back((sy, buf));
            }
            let picked: Vec<&[T::Acc]> = need
                .iter()
                .map(|sy| {
                    cache
                        .iter()
                        .find(|(r, _)| r == sy)
                        .map(|(_, b)| b.as_slice())
                        .unwrap_or(&[])
                })
                .collect();
            T::v_row(&picked, &ycoef[dy * ksize..(dy + 1) * ksize], interp, drow);
        }
    });
    out
}
