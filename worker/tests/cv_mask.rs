//! Parity of the mask kernels with OpenCV: `cv2.erode` (exact) and `cv2.GaussianBlur`
//! (float; exact except k = 5, see `cv/blur.rs`).

mod cv_support;

use cv_support::*;
use facefix_worker::pipeline::image::cv::{self, Affine};
use ndarray::Array2;
use serde_json::{Value, json};

/// A paste-back style mask: ones warped by a rotated ×2 similarity, plus a noisy plane.
fn inputs() -> Vec<(&'static str, Array2<f32>)> {
    let m: Affine = [[0.6571, -0.0336, 120.7], [0.0336, 0.6571, 18.9]];
    let mask = cv::warp_affine_f32(&Array2::ones((512, 512)), &m, 461, 397, 0.0);
    let noise: Vec<f32> = noise_u8(131 * 77, 5)
        .iter()
        .map(|&v| f32::from(v) / 255.0)
        .collect();
    vec![
        ("mask", mask),
        (
            "noise",
            Array2::from_shape_vec((77, 131), noise).expect("shape"),
        ),
    ]
}

fn cv_f32(req: Value, a: &Array2<f32>) -> Option<Vec<f32>> {
    let (h, w) = a.dim();
    let bytes = f32_bytes(a.as_standard_layout().as_slice().expect("contiguous"));
    oracle(
        req,
        &[Input {
            bytes: &bytes,
            shape: vec![h, w],
            dtype: "float32",
        }],
    )
    .map(|o| bytes_f32(&o.data))
}

/// (max abs diff, count of differing samples).
fn diff(a: &Array2<f32>, b: &[f32]) -> (f32, usize) {
    let a = a.as_standard_layout();
    a.iter().zip(b).fold((0f32, 0), |(m, n), (x, y)| {
        ((x - y).abs().max(m), n + usize::from(x != y))
    })
}

#[test]
fn erode_matches_opencv() {
    for (name, a) in inputs() {
        for k in [0usize, 1, 2, 3, 4, 6, 7, 32, 45] {
            let Some(expected) = cv_f32(json!({"op": "erode", "k": k}), &a) else {
                return;
            };
            let got = cv::erode(&a, k);
            assert_eq!(got.dim(), a.dim());
            assert_eq!(diff(&got, &expected), (0.0, 0), "{name} erode k={k}");
        }
    }
}

#[test]
fn gaussian_blur_matches_opencv() {
    for (name, a) in inputs() {
        for (k, sigma) in [
            (3usize, 0.0f64),
            (5, 0.0),
            (7, 0.0),
            (9, 0.0),
            (11, 0.0),
            (33, 0.0),
            (65, 0.0),
            (0, 2.5),
            (15, 3.0),
        ] {
            let Some(expected) = cv_f32(json!({"op": "blur", "ksize": k, "sigma": sigma}), &a)
            else {
                return;
            };
            let got = cv::gaussian_blur(&a, k, sigma);
            let (max, n) = diff(&got, &expected);
            eprintln!(
                "{name} blur k={k} sigma={sigma}: max diff {max:e}, {n} of {} differ",
                expected.len()
            );
            // Float ulps only: OpenCV's 5/7-tap small-kernel paths and the last < 4 columns
            // of a row (scalar code whose FMA contraction is compiler-chosen) were not
            // pinned down; everything else is bit-identical.
            assert!(max <= 2.5e-7, "{name} k={k} sigma={sigma}: max diff {max}");
            let budget = if k == 5 || k == 7 {
                expected.len() / 5
            } else {
                expected.len() / 500
            };
            assert!(
                n <= budget,
                "{name} k={k} sigma={sigma}: {n} samples differ"
            );
        }
    }
}

#[test]
fn gaussian_kernel_matches_opencv_formula() {
    // Normalised and symmetric; the small tables are OpenCV's.
    let k = cv::gaussian_kernel(33, 0.0);
    let s: f32 = k.iter().sum();
    assert!((s - 1.0).abs() < 1e-6);
    assert_eq!(k[0], k[32]);
    assert_eq!(cv::gaussian_kernel(3, 0.0), vec![0.25, 0.5, 0.25]);
}
