//! Parity of the bilinear warps with `cv2.warpAffine` (u8 RGB: ±1 LSB; f32 masks).

mod cv_support;

use cv_support::*;
use facefix_worker::pipeline::image::cv::{self, Affine};
use image::RgbImage;
use ndarray::Array2;
use serde_json::json;

/// The astronaut crop matrix of reference/README.md.
const ASTRONAUT_M: Affine = [
    [3.0224933, 0.1545947, -440.23680],
    [-0.1545947, 3.0224933, -29.83604],
];

fn cv_warp_u8(img: &RgbImage, m: &Affine, w: u32, h: u32, border: [u8; 3]) -> Option<Vec<u8>> {
    let (iw, ih) = img.dimensions();
    let req = json!({"op": "warp", "m": m, "w": w, "h": h, "border": border});
    oracle(
        req,
        &[u8_input(img.as_raw(), vec![ih as usize, iw as usize, 3])],
    )
    .map(|o| o.data)
}

/// Inverse of a similarity, ×`s`, shifted: the paste-back matrix shape.
fn paste_matrix(m: &Affine, s: f64, shift: f64) -> Affine {
    let [[a, b, tx], [c, d, ty]] = *m;
    let det = a * d - b * c;
    let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
    [
        [ia * s, ib * s, (-ia * tx - ib * ty) * s + shift],
        [ic * s, id * s, (-ic * tx - id * ty) * s + shift],
    ]
}

fn check(img: &RgbImage, m: &Affine, w: u32, h: u32, border: [u8; 3], what: &str) {
    let Some(expected) = cv_warp_u8(img, m, w, h, border) else {
        return;
    };
    let got = cv::warp_affine(img, m, w, h, border);
    let (max, n) = diff_u8(got.as_raw(), &expected);
    eprintln!(
        "{what}: max diff {max}, {n} of {} samples differ",
        expected.len()
    );
    assert!(max <= 1, "{what}: max diff {max}");
    assert!(n * 1000 <= expected.len(), "{what}: {n} samples differ");
}

#[test]
fn warp_u8_matches_opencv() {
    let img = load_rgb("images/astronaut.png");
    check(&img, &ASTRONAUT_M, 512, 512, [132, 133, 135], "align crop");
    let crop = cv::warp_affine(&img, &ASTRONAUT_M, 512, 512, [132, 133, 135]);
    check(
        &crop,
        &paste_matrix(&ASTRONAUT_M, 2.0, 1.0),
        1024,
        1024,
        [0, 0, 0],
        "paste x2",
    );
    check(
        &crop,
        &paste_matrix(&ASTRONAUT_M, 3.0, 1.5),
        1001,
        999,
        [0, 0, 0],
        "paste x3, odd size",
    );
    check(
        &crop,
        &cv::translate(&paste_matrix(&ASTRONAUT_M, 2.0, 1.0), 301, 77),
        333,
        451,
        [0, 0, 0],
        "paste rect",
    );
    let rot: Affine = [[0.7, -0.8, 200.0], [0.8, 0.7, -150.0]];
    check(&img, &rot, 517, 389, [9, 200, 31], "rotation");
    let noise = RgbImage::from_raw(37, 29, noise_u8(37 * 29 * 3, 11)).expect("size");
    check(
        &noise,
        &[[4.1, 0.3, -3.7], [-0.2, 3.9, 2.2]],
        160,
        111,
        [255, 0, 128],
        "small noise",
    );
}

#[test]
fn warp_f32_mask_matches_opencv() {
    let ones = Array2::<f32>::ones((512, 512));
    for (m, w, h) in [
        (paste_matrix(&ASTRONAUT_M, 2.0, 1.0), 1024usize, 1024usize),
        (paste_matrix(&ASTRONAUT_M, 1.0, 0.0), 517, 513),
    ] {
        let req = json!({"op": "warp", "m": m, "w": w, "h": h, "border": 0});
        let bytes = f32_bytes(ones.as_slice().expect("contiguous"));
        let Some(o) = oracle(
            req,
            &[Input {
                bytes: &bytes,
                shape: vec![512, 512],
                dtype: "float32",
            }],
        ) else {
            return;
        };
        let expected = bytes_f32(&o.data);
        let got = cv::warp_affine_f32(&ones, &m, w, h, 0.0);
        let max = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let n = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        eprintln!("mask {w}x{h}: max diff {max:e}, {n} differ");
        assert!(max <= 1e-4, "mask max diff {max}");
    }
}
