//! The restorer's tensors: 8-bit RGB crops ⇄ NCHW float32 in [-1, 1] (GFPGAN contract,
//! `face_pipeline.md` §1.5), with the reference's exact float32 arithmetic.

use crate::pipeline::inference::session::TensorF32;
use image::RgbImage;

/// Crops (all S×S) → [N, 3, S, S]: `(x/255 − 0.5)/0.5`, RGB planes.
pub fn preprocess(crops: &[RgbImage], size: u32) -> TensorF32 {
    let s = size as usize;
    let plane = s * s;
    let mut data = vec![0f32; crops.len() * 3 * plane];
    for (n, crop) in crops.iter().enumerate() {
        let base = n * 3 * plane;
        for (i, px) in crop.as_raw().chunks_exact(3).enumerate().take(plane) {
            for c in 0..3 {
                let x = f32::from(px[c]) / 255.0;
                data[base + c * plane + i] = (x - 0.5) / 0.5;
            }
        }
    }
    TensorF32::new(vec![crops.len(), 3, s, s], data)
}

/// One float in [-1, 1] → 8-bit: clamp, `(y+1)/2·255`, round half to even (numpy's rint).
#[inline]
pub fn to_u8(y: f32) -> u8 {
    let v = ((y.clamp(-1.0, 1.0) + 1.0) / 2.0 * 255.0).round_ties_even();
    // NaN casts to 0, as numpy's uint8 cast usually does.
    v as u8
}

/// [N, 3, S, S] → N RGB images.
pub fn postprocess(out: &TensorF32, size: u32) -> Vec<RgbImage> {
    let s = size as usize;
    let plane = s * s;
    let n = out.data.len() / (3 * plane).max(1);
    (0..n)
        .map(|k| {
            let base = k * 3 * plane;
            let mut raw = vec![0u8; plane * 3];
            for i in 0..plane {
                for c in 0..3 {
                    raw[i * 3 + c] = to_u8(out.data[base + c * plane + i]);
                }
            }
            RgbImage::from_raw(size, size, raw).unwrap_or_else(|| RgbImage::new(size, size))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_lossless() {
        let mut img = RgbImage::new(4, 4);
        for (i, p) in img.pixels_mut().enumerate() {
            *p = image::Rgb([(i * 16) as u8, 255 - (i * 16) as u8, (i * 7) as u8]);
        }
        let t = preprocess(std::slice::from_ref(&img), 4);
        assert_eq!(t.shape, vec![1, 3, 4, 4]);
        assert_eq!(t.data[0], -1.0); // R of pixel 0 = 0
        assert_eq!(t.data[16], 1.0); // G of pixel 0 = 255
        assert_eq!(postprocess(&t, 4)[0], img);
    }

    #[test]
    fn output_is_clamped_and_rounded_half_even() {
        assert_eq!(to_u8(-3.0), 0);
        assert_eq!(to_u8(2.0), 255);
        assert_eq!(to_u8(f32::NAN), 0);
        // (0+1)/2*255 = 127.5 exactly: numpy's rint gives 128
        assert_eq!(to_u8(0.0), 128);
        assert_eq!(to_u8(-0.5), 64); // 63.75
        assert_eq!(round_half_even_check(2.5), 2.0);
    }

    fn round_half_even_check(v: f32) -> f32 {
        v.round_ties_even()
    }
}
