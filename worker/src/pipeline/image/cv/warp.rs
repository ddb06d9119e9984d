//! `cv2.warpAffine(..., flags=INTER_LINEAR, borderMode=BORDER_CONSTANT)` for 8-bit RGB
//! and single-channel float images.
//!
//! OpenCV ≥ 4.11 (the reference runs 5.0) computes bilinear warps in `float`
//! (`warp_kernels.simd.hpp`): the matrix is inverted in double and cast to float; per
//! row, `Mx = float(y·M1) + M2`; per pixel, `sx = fma(M0, x, Mx)`; the taps are blended
//! with `fma(a, p01 − p00, p00)` horizontally then vertically, and 8-bit results are
//! rounded half to even. This file reproduces that sequence. The fused multiply-adds
//! are computed in `f64` and rounded once to `f32` (the product of two floats is exact
//! in a double), which equals a hardware FMA except in astronomically rare double-rounding
//! ties. Measured against cv2 5.0 (AVX2): identical on the face crop and paste warps.
//! OpenCV's scalar tail (the last < 16 pixels of a row) rounds its coordinates without
//! FMA, which can move a tail pixel by 1 LSB.

use super::Affine;
use super::parallel::for_each_row_stripe;
use super::sample::Sample;
use image::RgbImage;
use ndarray::Array2;

/// `round_f32(a·b + c)` with a single rounding of the exact product (see module doc).
#[inline(always)]
fn fma32(a: f32, b: f32, c: f32) -> f32 {
    (f64::from(a) * f64::from(b) + f64::from(c)) as f32
}

/// The destination → source matrix as `warpAffine` derives it: inverted in double
/// (`D = 1/det`, 0 for a singular matrix), then cast to float.
fn inverse_f32(m: &Affine) -> [f32; 6] {
    let [[m0, m1, m2], [m3, m4, m5]] = *m;
    let d = m0 * m4 - m1 * m3;
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (a11, a22) = (m4 * d, m0 * d);
    let (a12, a21) = (-m1 * d, -m3 * d);
    let b1 = -a11 * m2 - a12 * m5;
    let b2 = -a21 * m2 - a22 * m5;
    [
        a11 as f32, a12 as f32, b1 as f32, a21 as f32, a22 as f32, b2 as f32,
    ]
}

/// Source position of destination pixel `(x, y)`: integer tap and float phase.
struct Mapped {
    ix: i64,
    iy: i64,
    ax: f32,
    ay: f32,
}

/// `v.floor()` without the libm call baseline x86-64 makes for it: truncation is floor
/// for non-negative values and one too high for negative non-integers. Exact wherever
/// `v` fits an `i32`; beyond that (and for NaN) the tap is outside any image anyway.
#[inline(always)]
fn floor_fast(v: f32) -> f32 {
    let t = (v as i32) as f32;
    if t > v { t - 1.0 } else { t }
}

#[inline(always)]
fn map(mi: &[f32; 6], row: (f32, f32), x: usize) -> Mapped {
    let xf = x as f32;
    let sx = fma32(mi[0], xf, row.0);
    let sy = fma32(mi[3], xf, row.1);
    let (fx, fy) = (floor_fast(sx), floor_fast(sy));
    Mapped {
        ix: fx as i64,
        iy: fy as i64,
        ax: sx - fx,
        ay: sy - fy,
    }
}

#[inline(always)]
fn row_offsets(mi: &[f32; 6], y: usize) -> (f32, f32) {
    let yf = y as f32;
    (yf * mi[1] + mi[2], yf * mi[4] + mi[5])
}

/// Bilinear blend of the four taps as OpenCV's vector kernel computes it.
#[inline(always)]
fn blend(p: [f32; 4], ax: f32, ay: f32) -> f32 {
    let v0 = fma32(ax, p[1] - p[0], p[0]);
    let v1 = fma32(ax, p[3] - p[2], p[2]);
    fma32(ay, v1 - v0, v0)
}

/// Fetches the four taps of channel-interleaved `src` (w × h × cn) around `(ix, iy)`,
/// channel `c`, with `border` for taps outside the image.
#[inline(always)]
fn taps<T: Copy + Into<f32>>(
    src: &[T],
    (w, h, cn): (usize, usize, usize),
    m: &Mapped,
    c: usize,
    border: f32,
) -> [f32; 4] {
    let inside = |x: i64, y: i64| x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h;
    let get = |x: i64, y: i64| {
        if inside(x, y) {
            src[(y as usize * w + x as usize) * cn + c].into()
        } else {
            border
        }
    };
    [
        get(m.ix, m.iy),
        get(m.ix + 1, m.iy),
        get(m.ix, m.iy + 1),
        get(m.ix + 1, m.iy + 1),
    ]
}

/// True when no tap of the 2×2 neighbourhood lies in the image: OpenCV then writes the
/// border value directly.
#[inline(always)]
fn all_outside(m: &Mapped, w: usize, h: usize) -> bool {
    m.ix < -1 || m.iy < -1 || m.ix >= w as i64 || m.iy >= h as i64
}

/// `cv2.warpAffine(src, m, (w, h), INTER_LINEAR, BORDER_CONSTANT, border)` on RGB.
pub fn warp_affine(src: &RgbImage, m: &Affine, w: u32, h: u32, border: [u8; 3]) -> RgbImage {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let mi = inverse_f32(m);
    let row_len = w as usize * 3;
    let mut out = vec![0u8; row_len * h as usize];
    let data = src.as_raw();
    let bf = border.map(f32::from);
    for_each_row_stripe(&mut out, row_len, |y0, rows| {
        for (i, drow) in rows.chunks_exact_mut(row_len).enumerate() {
            let ro = row_offsets(&mi, y0 + i);
            for (x, px) in drow.chunks_exact_mut(3).enumerate() {
                let mp = map(&mi, ro, x);
                if sw == 0 || sh == 0 || all_outside(&mp, sw, sh) {
                    px.copy_from_slice(&border);
                    continue;
                }
                let inner = mp.ix >= 0
                    && mp.iy >= 0
                    && (mp.ix as usize) + 1 < sw
                    && (mp.iy as usize) + 1 < sh;
                for (c, o) in px.iter_mut().enumerate() {
                    let p = if inner {
                        // All four taps inside: direct loads (OpenCV's "all within" path).
                        let i00 = (mp.iy as usize * sw + mp.ix as usize) * 3 + c;
                        let i10 = i00 + sw * 3;
                        [data[i00], data[i00 + 3], data[i10], data[i10 + 3]].map(f32::from)
                    } else {
                        taps(data, (sw, sh, 3), &mp, c, bf[c])
                    };
                    let v = blend(p, mp.ax, mp.ay);
                    *o = u8::from_f32_saturate(v);
                }
            }
        }
    });
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}

/// The part `[x0, x0 + w) × [y0, y0 + h)` of `warp_affine(src, m, ..)`, computed the way
/// the reference does it: `warpAffine` with the matrix translated by `(−x0, −y0)` into a
/// `w × h` image (so the float coordinates, and the results, are those of the reference).
pub fn warp_affine_rect(
    src: &RgbImage,
    m: &Affine,
    (x0, y0, w, h): (i64, i64, u32, u32),
    border: [u8; 3],
) -> RgbImage {
    warp_affine(src, &translate(m, x0, y0), w, h, border)
}

/// `m` followed by a translation of `(−x0, −y0)`.
pub fn translate(m: &Affine, x0: i64, y0: i64) -> Affine {
    let mut t = *m;
    t[0][2] -= x0 as f64;
    t[1][2] -= y0 as f64;
    t
}

/// `cv2.warpAffine` of a single-channel float32 image (masks), bilinear, constant border.
pub fn warp_affine_f32(
    src: &Array2<f32>,
    m: &Affine,
    w: usize,
    h: usize,
    border: f32,
) -> Array2<f32> {
    let (sh, sw) = src.dim();
    let mi = inverse_f32(m);
    let src = src.as_standard_layout();
    let data = src.as_slice().unwrap_or(&[]);
    let mut out = vec![0f32; w * h];
    for_each_row_stripe(&mut out, w, |y0, rows| {
        for (i, drow) in rows.chunks_exact_mut(w).enumerate() {
            let ro = row_offsets(&mi, y0 + i);
            for (x, o) in drow.iter_mut().enumerate() {
                let mp = map(&mi, ro, x);
                *o = if data.is_empty() || all_outside(&mp, sw, sh) {
                    border
                } else {
                    blend(taps(data, (sw, sh, 1), &mp, 0, border), mp.ax, mp.ay)
                };
            }
        }
    });
    Array2::from_shape_vec((h, w), out).unwrap_or_else(|_| Array2::zeros((h, w)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn floor_fast_is_floor_in_image_range() {
        for i in -3_000_000..3_000_000 {
            let v = i as f32 / 1024.0;
            assert_eq!(super::floor_fast(v), v.floor(), "{v}");
        }
        for v in [
            -0.0f32,
            0.0,
            -1e-30,
            1e-30,
            8_388_607.5,
            -8_388_607.5,
            2e9,
            -2e9,
        ] {
            assert_eq!(super::floor_fast(v), v.floor(), "{v}");
        }
    }
}
