//! Box arithmetic and crops of the MTCNN cascade, following facenet's numerics exactly
//! (the reference's `_regress`, `_square`, `_crops`).

use crate::pipeline::image::cv;
use ndarray::Array3;

/// A candidate: box (x1, y1, x2, y2) and its score.
pub type Boxes = Vec<[f64; 4]>;

/// x1 += dx1·w, y1 += dy1·h, x2 += dx2·w, y2 += dy2·h with w = x2 − x1 (+1 if `plus_one`).
pub fn regress(boxes: &[[f64; 4]], reg: &[[f64; 4]], plus_one: bool) -> Boxes {
    let extra = if plus_one { 1.0 } else { 0.0 };
    boxes
        .iter()
        .zip(reg)
        .map(|(b, r)| {
            let w = b[2] - b[0] + extra;
            let h = b[3] - b[1] + extra;
            [
                b[0] + r[0] * w,
                b[1] + r[1] * h,
                b[2] + r[2] * w,
                b[3] + r[3] * h,
            ]
        })
        .collect()
}

/// Square boxes around the same centre, side = max(w, h), w = x2 − x1 (no +1).
pub fn square(boxes: &[[f64; 4]]) -> Boxes {
    boxes
        .iter()
        .map(|b| {
            let w = b[2] - b[0];
            let h = b[3] - b[1];
            let side = w.max(h);
            let x1 = b[0] + w * 0.5 - side * 0.5;
            let y1 = b[1] + h * 0.5 - side * 0.5;
            [x1, y1, x1 + side, y1 + side]
        })
        .collect()
}

/// Truncation toward zero of every coordinate (numpy's `trunc`).
pub fn trunc(boxes: &[[f64; 4]]) -> Boxes {
    boxes.iter().map(|b| b.map(f64::trunc)).collect()
}

/// `(x - 127.5) * 0.0078125` in float32, MTCNN's input normalisation.
#[inline]
pub fn normalize(x: f32) -> f32 {
    (x - 127.5) * 0.0078125
}

/// The crop of an integer box, MATLAB-style: box (x1, y1, x2, y2) covers 0-based columns
/// x1−1 ..= x2−1 and rows y1−1 ..= y2−1, zero outside the image, as float32, resized to
/// `size`×`size` with INTER_AREA in float (uint8 crops do not reproduce the reference's
/// numbers). `None` for an empty box.
pub fn crop(img: &image::RgbImage, b: &[f64; 4], size: usize) -> Option<Array3<f32>> {
    // The boxes are already truncated; `as i64` truncates like Python's int().
    let (x1, y1, x2, y2) = (b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64);
    let (cw, ch) = (x2 - x1 + 1, y2 - y1 + 1);
    if cw <= 0 || ch <= 0 {
        return None;
    }
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let mut out = Array3::<f32>::zeros((ch as usize, cw as usize, 3));
    let (sx0, sy0) = (x1 - 1, y1 - 1);
    let (ix0, iy0) = (sx0.max(0), sy0.max(0));
    let (ix1, iy1) = ((sx0 + cw).min(w), (sy0 + ch).min(h));
    if ix1 > ix0 && iy1 > iy0 {
        let raw = img.as_raw();
        for y in iy0..iy1 {
            let row = &raw[((y * w + ix0) * 3) as usize..((y * w + ix1) * 3) as usize];
            let mut dst = out.slice_mut(ndarray::s![
                (y - sy0) as usize,
                (ix0 - sx0) as usize..(ix1 - sx0) as usize,
                ..
            ]);
            for (d, s) in dst.iter_mut().zip(row) {
                *d = f32::from(*s);
            }
        }
    }
    Some(cv::resize_area_f32(&out, size, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regress_and_square_follow_facenet() {
        let b = [[10.0, 20.0, 30.0, 60.0]];
        let r = [[0.1, -0.1, 0.0, 0.5]];
        assert_eq!(regress(&b, &r, false), vec![[12.0, 16.0, 30.0, 80.0]]);
        let plus = regress(&b, &r, true)[0];
        for (got, want) in plus.iter().zip([12.1, 15.9, 30.0, 80.5]) {
            assert!((got - want).abs() < 1e-12, "{plus:?}");
        }
        assert_eq!(square(&b), vec![[0.0, 20.0, 40.0, 60.0]]);
        assert_eq!(
            trunc(&[[-1.5, 1.5, 2.9, -0.2]]),
            vec![[-1.0, 1.0, 2.0, -0.0]]
        );
    }

    #[test]
    fn crops_are_one_based_and_zero_padded() {
        let mut img = image::RgbImage::new(4, 4);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([(10 * x + y) as u8, 0, 0]);
        }
        // box (1,1)-(2,2) covers pixels (0,0)..(1,1); size 2 keeps them as they are
        let c = crop(&img, &[1.0, 1.0, 2.0, 2.0], 2).expect("crop");
        assert_eq!(c[[0, 0, 0]], 0.0);
        assert_eq!(c[[0, 1, 0]], 10.0);
        assert_eq!(c[[1, 0, 0]], 1.0);
        // a box hanging off the top-left: zeros there
        let c = crop(&img, &[0.0, 0.0, 1.0, 1.0], 2).expect("crop");
        assert_eq!(c[[0, 0, 0]], 0.0);
        assert_eq!(c[[1, 1, 0]], 0.0 + 0.0);
        assert!(crop(&img, &[3.0, 3.0, 2.0, 5.0], 2).is_none());
    }
}
