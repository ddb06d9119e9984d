//! Parity of the resize kernels with `cv2.resize` (INTER_AREA, INTER_LINEAR,
//! INTER_LANCZOS4): bit-exact on u8 and f32.

mod cv_support;

use cv_support::*;
use facefix_worker::pipeline::image::cv;
use image::RgbImage;
use ndarray::Array3;
use serde_json::json;

fn noise_rgb(w: u32, h: u32, seed: u64) -> RgbImage {
    RgbImage::from_raw(w, h, noise_u8((w * h * 3) as usize, seed)).expect("size")
}

/// Resizes with OpenCV; `None` when the oracle is unavailable.
fn cv_resize_u8(img: &RgbImage, w: u32, h: u32, interp: &str) -> Option<Vec<u8>> {
    let (iw, ih) = img.dimensions();
    let req = json!({"op": "resize", "w": w, "h": h, "interp": interp});
    oracle(
        req,
        &[u8_input(img.as_raw(), vec![ih as usize, iw as usize, 3])],
    )
    .map(|o| o.data)
}

fn check_u8(
    img: &RgbImage,
    sizes: &[(u32, u32)],
    interp: &str,
    ours: impl Fn(&RgbImage, u32, u32) -> RgbImage,
) {
    for &(w, h) in sizes {
        let Some(expected) = cv_resize_u8(img, w, h, interp) else {
            return;
        };
        let got = ours(img, w, h);
        let (max, n) = diff_u8(got.as_raw(), &expected);
        assert_eq!(
            (max, n),
            (0, 0),
            "{interp} {:?} -> {w}x{h}: max diff {max}, {n} samples differ",
            img.dimensions()
        );
    }
}

#[test]
fn resize_area_u8_matches_opencv() {
    let img = load_rgb("images/astronaut.png");
    // The MTCNN pyramid of a 512² image (ceil(512·0.6·0.709^k)), integer factors (fast
    // path, 2×2 shortcut and generic), non-integer factors and enlargement.
    let mut sizes: Vec<(u32, u32)> = vec![
        (256, 256),
        (128, 128),
        (170, 170),
        (100, 57),
        (512, 256),
        (600, 700),
        (513, 300),
    ];
    let mut s = 0.6f64;
    while 512.0 * s >= 12.0 {
        let d = (512.0 * s).ceil() as u32;
        sizes.push((d, d));
        s *= 0.709;
    }
    check_u8(&img, &sizes, "area", cv::resize_area);
    check_u8(
        &noise_rgb(97, 61, 7),
        &[(31, 20), (48, 30), (200, 150), (97, 30), (1, 1)],
        "area",
        cv::resize_area,
    );
}

#[test]
fn resize_area_f32_matches_opencv() {
    let (h, w) = (53usize, 47usize);
    let vals: Vec<f32> = noise_u8(h * w * 3, 3)
        .iter()
        .map(|&v| f32::from(v) * 0.37 - 11.0)
        .collect();
    let img = Array3::from_shape_vec((h, w, 3), vals.clone()).expect("shape");
    // MTCNN crops: box side -> 24 and 48 (down, integer, up).
    for (dw, dh) in [
        (24usize, 24usize),
        (48, 48),
        (12, 12),
        (47, 53),
        (94, 106),
        (23, 50),
        (2, 2),
    ] {
        let req = json!({"op": "resize", "w": dw, "h": dh, "interp": "area"});
        let bytes = f32_bytes(&vals);
        let Some(o) = oracle(
            req,
            &[Input {
                bytes: &bytes,
                shape: vec![h, w, 3],
                dtype: "float32",
            }],
        ) else {
            return;
        };
        let expected = bytes_f32(&o.data);
        let got = cv::resize_area_f32(&img, dw, dh);
        assert_eq!(got.dim(), (dh, dw, 3));
        let got = got.as_standard_layout();
        let bad = got
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(bad, 0, "area f32 -> {dw}x{dh}: {bad} samples differ");
    }
}

#[test]
fn resize_linear_u8_matches_opencv() {
    let img = load_rgb("images/astronaut.png");
    check_u8(
        &img,
        &[
            (512, 512),
            (256, 256),
            (300, 300),
            (1024, 1024),
            (777, 333),
            (17, 900),
        ],
        "linear",
        cv::resize_linear,
    );
    check_u8(
        &load_rgb("images/coffee.png"),
        &[(512, 512), (300, 200)],
        "linear",
        cv::resize_linear,
    );
}

#[test]
fn resize_lanczos4_u8_matches_opencv() {
    let img = load_rgb("images/coffee.png");
    check_u8(
        &img,
        &[
            (1200, 800),
            (1800, 1200),
            (2400, 1600),
            (600, 400),
            (601, 399),
            (300, 200),
            (1000, 1000),
        ],
        "lanczos4",
        cv::resize_lanczos4,
    );
    check_u8(
        &noise_rgb(13, 9, 5),
        &[(26, 18), (39, 27), (5, 3), (100, 1)],
        "lanczos4",
        cv::resize_lanczos4,
    );
}
