//! `cv::resize(..., INTER_AREA)` for `u8` and `f32` interleaved images.
//!
//! OpenCV has three INTER_AREA code paths and picks one from the scale factors
//! (`resize.cpp`, `hal::resize`):
//! * both factors integer ("area fast"): a plain box average of `sx × sy` pixels;
//! * both factors ≥ 1 otherwise: exact pixel-area weights (`computeResizeAreaTab`),
//!   accumulated in `float`;
//! * any factor < 1 (enlarging): bilinear with area-style coefficients (see
//!   [`super::resize`]).
//!
//! Each is reproduced with the same arithmetic (types, operation order, rounding), so the
//! results are bit-exact.

use super::parallel::for_each_row_stripe;
use super::resize::{self, Interp, Separable};
use super::sample::Sample;

/// The `(source index, destination index, weight)` entries of one axis, as
/// `computeResizeAreaTab` builds them: for each destination cell, the partially covered
/// source pixel on the left, the fully covered ones, then the partial one on the right.
#[derive(Debug, Clone, Copy)]
struct AreaTap {
    dst: usize,
    src: usize,
    alpha: f32,
}

fn area_taps(ssize: usize, dsize: usize, scale: f64) -> Vec<AreaTap> {
    let mut tab = Vec::with_capacity(ssize * 2);
    let s_f = ssize as f64;
    for dx in 0..dsize {
        let fsx1 = dx as f64 * scale;
        let fsx2 = fsx1 + scale;
        let cell_width = scale.min(s_f - fsx1);
        let mut sx1 = fsx1.ceil() as i64;
        let mut sx2 = fsx2.floor() as i64;
        sx2 = sx2.min(ssize as i64 - 1);
        sx1 = sx1.min(sx2);
        // The 1e-3 thresholds are OpenCV's: slivers thinner than that are dropped.
        if sx1 as f64 - fsx1 > 1e-3 {
            tab.push(AreaTap {
                dst: dx,
                src: (sx1 - 1) as usize,
                alpha: ((sx1 as f64 - fsx1) / cell_width) as f32,
            });
        }
        for sx in sx1..sx2 {
            tab.push(AreaTap {
                dst: dx,
                src: sx as usize,
                alpha: (1.0 / cell_width) as f32,
            });
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            tab.push(AreaTap {
                dst: dx,
                src: sx2 as usize,
                alpha: ((fsx2 - sx2 as f64).min(1.0).min(cell_width) / cell_width) as f32,
            });
        }
    }
    tab
}

/// Resizes an interleaved image of `cn` channels with INTER_AREA semantics.
pub(crate) fn resize_area_plane<T: Separable + AreaFast>(
    src: &[T],
    (sw, sh): (usize, usize),
    cn: usize,
    (dw, dh): (usize, usize),
) -> Vec<T> {
    if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
        return Vec::new();
    }
    if (dw, dh) == (sw, sh) {
        // cv::resize copies when the size does not change.
        return src.to_vec();
    }
    // cv::resize derives the factors this way; the tables depend on these exact doubles.
    let inv_scale_x = dw as f64 / sw as f64;
    let inv_scale_y = dh as f64 / sh as f64;
    let scale_x = 1.0 / inv_scale_x;
    let scale_y = 1.0 / inv_scale_y;
    if scale_x >= 1.0 && scale_y >= 1.0 {
        let iscale_x = scale_x.round_ties_even();
        let iscale_y = scale_y.round_ties_even();
        let fast =
            (scale_x - iscale_x).abs() < f64::EPSILON && (scale_y - iscale_y).abs() < f64::EPSILON;
        if fast {
            return T::area_fast(
                src,
                (sw, sh),
                cn,
                (dw, dh),
                (iscale_x as usize, iscale_y as usize),
            );
        }
        return area_general(src, (sw, sh), cn, (dw, dh), (scale_x, scale_y));
    }
    resize::resize_separable(src, (sw, sh), cn, (dw, dh), Interp::LinearArea)
}

/// `ResizeArea_Invoker`: rows of horizontally weighted sums in `float`, combined
/// vertically in `float`, converted with `saturate_cast`.
fn area_general<T: Sample>(
    src: &[T],
    (sw, sh): (usize, usize),
    cn: usize,
    (dw, dh): (usize, usize),
    (scale_x, scale_y): (f64, f64),
) -> Vec<T> {
    let xtab = area_taps(sw, dw, scale_x);
    let ytab = area_taps(sh, dh, scale_y);
    // ytab is sorted by destination row: index where each destination row's entries start.
    let mut yofs = vec![0usize; dh + 1];
    for (j, t) in ytab.iter().enumerate().rev() {
        yofs[t.dst] = j;
    }
    yofs[dh] = ytab.len();
    let row_len = dw * cn;
    let h_pass = match cn {
        1 => h_pass_cn::<T, 1>,
        3 => h_pass_cn::<T, 3>,
        4 => h_pass_cn::<T, 4>,
        _ => h_pass_any::<T>,
    };
    let mut out = vec![T::default(); row_len * dh];
    for_each_row_stripe(&mut out, row_len, |y0, rows| {
        let mut buf = vec![0f32; row_len];
        let mut sum = vec![0f32; row_len];
        // A source row straddling two destination rows appears in both rows' taps; its
        // horizontal pass is the same both times, so it is kept, not recomputed.
        let mut buf_row = None;
        for (i, drow) in rows.chunks_exact_mut(row_len).enumerate() {
            let dy = y0 + i;
            for (n, yt) in ytab[yofs[dy]..yofs[dy + 1]].iter().enumerate() {
                if buf_row != Some(yt.src) {
                    let srow = &src[yt.src * sw * cn..(yt.src + 1) * sw * cn];
                    h_pass(srow, &xtab, cn, &mut buf);
                    buf_row = Some(yt.src);
                }
                let beta = yt.alpha;
                if n == 0 {
                    for (s, b) in sum.iter_mut().zip(&buf) {
                        *s = beta * b;
                    }
                } else {
                    for (s, b) in sum.iter_mut().zip(&buf) {
                        *s += beta * b;
                    }
                }
            }
            for (d, s) in drow.iter_mut().zip(&sum) {
                *d = T::from_f32_saturate(*s);
            }
        }
    });
    out
}

/// One source row's horizontally weighted sums, taps in table order (the float result
/// depends on the order), for a channel count known at compile time.
fn h_pass_cn<T: Sample, const CN: usize>(
    srow: &[T],
    xtab: &[AreaTap],
    _cn: usize,
    buf: &mut [f32],
) {
    buf.fill(0.0);
    for xt in xtab {
        let (d, s) = (xt.dst * CN, xt.src * CN);
        let (Some(b), Some(px)) = (buf.get_mut(d..d + CN), srow.get(s..s + CN)) else {
            continue;
        };
        for (b, p) in b.iter_mut().zip(px) {
            *b += p.to_f32() * xt.alpha;
        }
    }
}

/// [`h_pass_cn`] for any channel count.
fn h_pass_any<T: Sample>(srow: &[T], xtab: &[AreaTap], cn: usize, buf: &mut [f32]) {
    buf.fill(0.0);
    for xt in xtab {
        let (d, s) = (xt.dst * cn, xt.src * cn);
        for c in 0..cn {
            buf[d + c] += srow[s + c].to_f32() * xt.alpha;
        }
    }
}

/// The integer-factor box average (`resizeAreaFast_`), whose arithmetic depends on the
/// sample type.
pub(crate) trait AreaFast: Sized {
    fn area_fast(
        src: &[Self],
        ssize: (usize, usize),
        cn: usize,
        dsize: (usize, usize),
        factor: (usize, usize),
    ) -> Vec<Self>;
}

/// Calls `f(source row stride, source offset of the box's top-left sample, out sample)`
/// for every output sample, row-parallel.
fn box_loop<T: Sample, F>(
    src_len: usize,
    (sw, _sh): (usize, usize),
    cn: usize,
    (dw, dh): (usize, usize),
    (fx, fy): (usize, usize),
    f: F,
) -> Vec<T>
where
    F: Fn(usize, usize) -> T + Sync,
{
    debug_assert!(src_len >= sw * cn);
    let row_len = dw * cn;
    let mut out = vec![T::default(); row_len * dh];
    let stride = sw * cn;
    for_each_row_stripe(&mut out, row_len, |y0, rows| {
        for (i, drow) in rows.chunks_exact_mut(row_len).enumerate() {
            let sy0 = (y0 + i) * fy;
            for dx in 0..dw {
                for c in 0..cn {
                    drow[dx * cn + c] = f(stride, sy0 * stride + dx * fx * cn + c);
                }
            }
        }
    });
    out
}

impl AreaFast for u8 {
    fn area_fast(
        src: &[u8],
        ssize: (usize, usize),
        cn: usize,
        dsize: (usize, usize),
        (fx, fy): (usize, usize),
    ) -> Vec<u8> {
        if fx == 2 && fy == 2 && matches!(cn, 1 | 3 | 4) {
            // ResizeAreaFastVec's 2×2 shortcut rounds half up with an integer shift.
            return box_loop(src.len(), ssize, cn, dsize, (2, 2), |stride, o| {
                let s = u32::from(src[o])
                    + u32::from(src[o + cn])
                    + u32::from(src[o + stride])
                    + u32::from(src[o + stride + cn]);
                ((s + 2) >> 2) as u8
            });
        }
        // Generic: integer sum times a float reciprocal, then cvRound (half to even).
        let scale = 1.0f32 / (fx * fy) as f32;
        box_loop(src.len(), ssize, cn, dsize, (fx, fy), |stride, o| {
            let mut s: i32 = 0;
            for ky in 0..fy {
                for kx in 0..fx {
                    s += i32::from(src[o + ky * stride + kx * cn]);
                }
            }
            u8::from_f32_saturate(s as f32 * scale)
        })
    }
}

impl AreaFast for f32 {
    fn area_fast(
        src: &[f32],
        ssize: (usize, usize),
        cn: usize,
        dsize: (usize, usize),
        (fx, fy): (usize, usize),
    ) -> Vec<f32> {
        let scale = 1.0f32 / (fx * fy) as f32;
        box_loop(src.len(), ssize, cn, dsize, (fx, fy), |stride, o| {
            // resizeAreaFast_ adds the box's samples (row-major offsets) four at a time
            // (`sum += a + b + c + d`, CV_ENABLE_UNROLLED), then one by one; the float
            // result depends on that grouping.
            let area = fx * fy;
            let at = |k: usize| src[o + (k / fx) * stride + (k % fx) * cn];
            let mut sum = 0f32;
            let mut k = 0;
            while k + 4 <= area {
                sum += at(k) + at(k + 1) + at(k + 2) + at(k + 3);
                k += 4;
            }
            while k < area {
                sum += at(k);
                k += 1;
            }
            sum * scale
        })
    }
}
