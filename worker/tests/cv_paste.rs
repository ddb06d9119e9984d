//! Paste-back against `facefix_ref.paste_back` (per-face rectangles, float64 composite,
//! truncation). Its timing on the 33 MP image is the `background` and `paste` benches of
//! `benches/benches/pipeline.rs`.

mod cv_support;

use cv_support::*;
use facefix_worker::pipeline::image::cv::{self, Affine};
use facefix_worker::pipeline::image::{align, paste};
use image::RgbImage;
use serde_json::json;

const ASTRONAUT_LANDMARKS: [[f64; 2]; 5] = [
    [203.86082482337952, 101.3025894165039],
    [246.38959169387817, 103.17833423614502],
    [224.26691555976868, 128.89697313308716],
    [201.82275295257568, 139.76607608795166],
    [244.90507078170776, 141.99066925048828],
];

/// A visibly "restored" face: the crop with a deterministic per-channel change, so the
/// pasted face differs from the background (like the `asym` test restorer).
fn fake_restore(crop: &RgbImage) -> RgbImage {
    let mut out = crop.clone();
    for (i, p) in out.pixels_mut().enumerate() {
        p[0] = p[0].saturating_add(17);
        p[1] = 255 - p[1];
        p[2] = p[2] / 2 + (i % 7) as u8;
    }
    out
}

fn reference_paste(img: &RgbImage, faces: &[(RgbImage, Affine)], upscale: u32) -> Option<Vec<u8>> {
    let (w, h) = img.dimensions();
    let mut inputs = vec![u8_input(img.as_raw(), vec![h as usize, w as usize, 3])];
    for (f, _) in faces {
        inputs.push(u8_input(
            f.as_raw(),
            vec![f.height() as usize, f.width() as usize, 3],
        ));
    }
    let affines: Vec<&Affine> = faces.iter().map(|(_, m)| m).collect();
    oracle(
        json!({"op": "paste", "affines": affines, "upscale": upscale}),
        &inputs,
    )
    .map(|o| o.data)
}

fn check(img: &RgbImage, faces: &[(RgbImage, Affine)], upscale: u32, what: &str) {
    let got = paste::paste_back(img, faces, upscale);
    assert_eq!(
        got.dimensions(),
        (img.width() * upscale, img.height() * upscale)
    );
    let Some(expected) = reference_paste(img, faces, upscale) else {
        return;
    };
    let (max, n) = diff_u8(got.as_raw(), &expected);
    let psnr = psnr_u8(got.as_raw(), &expected);
    eprintln!(
        "{what}: max diff {max}, {n} of {} samples differ, PSNR {psnr:.1} dB",
        expected.len()
    );
    assert!(max <= 2, "{what}: max diff {max}");
    assert!(n * 1000 <= expected.len(), "{what}: {n} samples differ");
}

fn astronaut_face(landmarks: &[[f64; 2]; 5], restore: bool) -> (RgbImage, Affine) {
    let img = load_rgb("images/astronaut.png");
    let (crop, m) = align::align_face(&img, landmarks, 512);
    (if restore { fake_restore(&crop) } else { crop }, m)
}

#[test]
fn zero_faces_is_the_lanczos_background() {
    let img = load_rgb("images/coffee.png");
    for upscale in [1, 2, 3] {
        let got = paste::paste_back(&img, &[], upscale);
        let bg = cv::resize_lanczos4(&img, 600 * upscale, 400 * upscale);
        assert_eq!(got.as_raw(), bg.as_raw());
        let Some(expected) = reference_paste(&img, &[], upscale) else {
            return;
        };
        assert_eq!(got.as_raw(), &expected, "x{upscale}");
    }
}

#[test]
fn one_face_matches_reference() {
    let img = load_rgb("images/astronaut.png");
    let identity = astronaut_face(&ASTRONAUT_LANDMARKS, false);
    let restored = astronaut_face(&ASTRONAUT_LANDMARKS, true);
    for upscale in [1, 2, 3] {
        check(
            &img,
            std::slice::from_ref(&identity),
            upscale,
            &format!("identity x{upscale}"),
        );
        check(
            &img,
            std::slice::from_ref(&restored),
            upscale,
            &format!("restored x{upscale}"),
        );
    }
}

#[test]
fn overlapping_and_distant_faces_match_reference() {
    let img = load_rgb("images/astronaut.png");
    let shift = |dx: f64, dy: f64, s: f64| {
        ASTRONAUT_LANDMARKS
            .map(|[x, y]| [(x - 224.0) * s + 224.0 + dx, (y - 120.0) * s + 120.0 + dy])
    };
    let faces = vec![
        astronaut_face(&ASTRONAUT_LANDMARKS, true),
        astronaut_face(&shift(30.0, 20.0, 0.8), true), // overlaps the first
        astronaut_face(&shift(-190.0, 330.0, 0.4), true), // small, far away
        astronaut_face(&shift(250.0, 380.0, 1.6), true), // partly outside the image
    ];
    check(&img, &faces, 2, "4 faces x2");
    // A face small enough for w_edge = 0 (3×3 erosion, no blur) and one with k = 5.
    check(
        &img,
        &[
            astronaut_face(&shift(0.0, 0.0, 0.1), true),
            astronaut_face(&shift(0.0, 250.0, 0.28), true),
        ],
        1,
        "tiny faces x1",
    );
}

#[test]
fn inverse_affine_matches_reference_formula() {
    let m: Affine = [
        [3.0224933, 0.1545947, -440.23680],
        [-0.1545947, 3.0224933, -29.83604],
    ];
    let inv = paste::inverse_affine(&m, 2);
    // m · (inv without the shift, /2) must be the identity.
    let u = [
        [inv[0][0] / 2.0, inv[0][1] / 2.0, (inv[0][2] - 1.0) / 2.0],
        [inv[1][0] / 2.0, inv[1][1] / 2.0, (inv[1][2] - 1.0) / 2.0],
    ];
    for (x, y) in [(0.0, 0.0), (511.0, 3.0), (100.0, 400.0)] {
        let (sx, sy) = (
            u[0][0] * x + u[0][1] * y + u[0][2],
            u[1][0] * x + u[1][1] * y + u[1][2],
        );
        let (bx, by) = (
            m[0][0] * sx + m[0][1] * sy + m[0][2],
            m[1][0] * sx + m[1][1] * sy + m[1][2],
        );
        assert!((bx - x).abs() < 1e-9 && (by - y).abs() < 1e-9);
    }
    assert_eq!(
        paste::inverse_affine(&m, 1)[0][2],
        -paste::inverse_affine(&m, 1)[0][0] * m[0][2]
            - paste::inverse_affine(&m, 1)[0][1] * m[1][2]
    );
}
