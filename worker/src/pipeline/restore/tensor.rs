//! The models' image tensors: 8-bit RGB crops ⇄ NCHW float32, in [-1, 1] (GFPGAN contract,
//! `face_pipeline.md` §1.5, with the reference's exact float32 arithmetic) or in [0, 1]
//! (Real-ESRGAN).

use crate::pipeline::inference::session::TensorF32;
use facefix_shared::models::Normalisation;
use image::RgbImage;

/// One 8-bit value → the model's float.
#[inline]
fn to_f32(v: u8, norm: Normalisation) -> f32 {
    let x = f32::from(v) / 255.0;
    match norm {
        Normalisation::ZeroToOne => x,
        // The detectors' contracts never reach a restorer (the manifest refuses them there).
        Normalisation::MinusOneToOne | Normalisation::Mtcnn | Normalisation::RetinafaceMeans => {
            (x - 0.5) / 0.5
        }
    }
}

/// Crops (all the same size, W×H) → [N, 3, H, W], RGB planes.
pub fn preprocess(crops: &[RgbImage], norm: Normalisation) -> TensorF32 {
    let (w, h) = crops
        .first()
        .map_or((0, 0), |c| (c.width() as usize, c.height() as usize));
    let plane = w * h;
    let mut data = vec![0f32; crops.len() * 3 * plane];
    for (n, crop) in crops.iter().enumerate() {
        let base = n * 3 * plane;
        for (i, px) in crop.as_raw().chunks_exact(3).enumerate().take(plane) {
            for c in 0..3 {
                data[base + c * plane + i] = to_f32(px[c], norm);
            }
        }
    }
    TensorF32::new(vec![crops.len(), 3, h, w], data)
}

/// One float in [-1, 1] → 8-bit: clamp, `(y+1)/2·255`, round half to even (numpy's rint).
#[inline]
pub fn to_u8(y: f32) -> u8 {
    let v = ((y.clamp(-1.0, 1.0) + 1.0) / 2.0 * 255.0).round_ties_even();
    // NaN casts to 0, as numpy's uint8 cast usually does.
    v as u8
}

/// One float in [0, 1] → 8-bit: clamp, `y·255`, round half to even.
#[inline]
fn unit_to_u8(y: f32) -> u8 {
    (y.clamp(0.0, 1.0) * 255.0).round_ties_even() as u8
}

/// [N, 3, H, W] → N RGB images.
pub fn postprocess(out: &TensorF32, norm: Normalisation) -> Vec<RgbImage> {
    let (h, w) = match out.shape[..] {
        [_, 3, h, w] => (h, w),
        _ => (0, 0),
    };
    let plane = h * w;
    let n = out.data.len() / (3 * plane).max(1);
    let convert = match norm {
        Normalisation::ZeroToOne => unit_to_u8,
        Normalisation::MinusOneToOne | Normalisation::Mtcnn | Normalisation::RetinafaceMeans => {
            to_u8
        }
    };
    (0..n)
        .map(|k| {
            let base = k * 3 * plane;
            let mut raw = vec![0u8; plane * 3];
            for i in 0..plane {
                for c in 0..3 {
                    raw[i * 3 + c] = convert(out.data[base + c * plane + i]);
                }
            }
            let (w, h) = (w as u32, h as u32);
            RgbImage::from_raw(w, h, raw).unwrap_or_else(|| RgbImage::new(w, h))
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
        let t = preprocess(std::slice::from_ref(&img), Normalisation::MinusOneToOne);
        assert_eq!(t.shape, vec![1, 3, 4, 4]);
        assert_eq!(t.data[0], -1.0); // R of pixel 0 = 0
        assert_eq!(t.data[16], 1.0); // G of pixel 0 = 255
        assert_eq!(postprocess(&t, Normalisation::MinusOneToOne)[0], img);
    }

    #[test]
    fn zero_to_one_round_trips_any_size() {
        let img = RgbImage::from_fn(5, 3, |x, y| {
            image::Rgb([(x * 50) as u8, (y * 100) as u8, 255])
        });
        let t = preprocess(std::slice::from_ref(&img), Normalisation::ZeroToOne);
        assert_eq!(t.shape, vec![1, 3, 3, 5]);
        assert_eq!(t.data[4], 200.0 / 255.0); // R of pixel (4, 0)
        assert_eq!(t.data[2 * 15], 1.0); // B of pixel 0
        assert_eq!(postprocess(&t, Normalisation::ZeroToOne)[0], img);
        let wild = TensorF32::new(vec![1, 3, 1, 1], vec![-0.5, 1.5, f32::NAN]);
        assert_eq!(
            postprocess(&wild, Normalisation::ZeroToOne)[0].as_raw(),
            &[0, 255, 0]
        );
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
