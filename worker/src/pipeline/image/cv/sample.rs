//! The two sample types the kernels run on, with OpenCV's conversions back from the
//! working type (`saturate_cast`).

/// A sample of an image plane: `u8` (8-bit images) or `f32` (masks, MTCNN crops).
pub trait Sample: Copy + Send + Sync + Default + 'static {
    fn to_f32(self) -> f32;
    /// OpenCV's `saturate_cast<T>(float)`: round half to even (`cvRound`) and clamp for
    /// `u8`, identity for `f32`.
    fn from_f32_saturate(v: f32) -> Self;
}

impl Sample for u8 {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    #[inline]
    fn from_f32_saturate(v: f32) -> Self {
        // cvRound uses the SSE conversion, which rounds half to even. Clamping first
        // to integer bounds gives the same result, and on [0, 2^23) adding and removing
        // 2^23 rounds half to even in the FPU's default mode: one add and one subtract
        // instead of a libm `rintf` call (baseline x86-64 has no SSE4.1 `roundss`).
        const TWO_POW_23: f32 = 8_388_608.0;
        ((v.clamp(0.0, 255.0) + TWO_POW_23) - TWO_POW_23) as u8
    }
}

impl Sample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f32_saturate(v: f32) -> Self {
        v
    }
}

/// `saturate_cast<uchar>(int)`.
#[inline]
pub fn sat_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u8_saturate_rounds_half_to_even_like_cv_round() {
        for i in -4000..=300_000 {
            let v = i as f32 / 1000.0;
            let want = v.round_ties_even().clamp(0.0, 255.0) as u8;
            assert_eq!(u8::from_f32_saturate(v), want, "{v}");
        }
        for v in [
            0.5f32,
            1.5,
            2.5,
            254.5,
            255.5,
            -0.5,
            f32::NAN,
            f32::INFINITY,
            -1e30,
        ] {
            let want = v.round_ties_even().clamp(0.0, 255.0) as u8;
            assert_eq!(u8::from_f32_saturate(v), want, "{v}");
        }
    }
}
