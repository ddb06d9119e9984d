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
        // cvRound uses the SSE conversion, which rounds half to even.
        let r = v.round_ties_even();
        r.clamp(0.0, 255.0) as u8
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
