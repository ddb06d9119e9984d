//! Alignment: Umeyama similarity against the reference's numbers and the aligned crop
//! against `facefix_ref.align_face`.

mod cv_support;

use cv_support::*;
use facefix_worker::pipeline::image::align;
use facefix_worker::pipeline::image::cv::Affine;
use serde_json::json;

/// MTCNN landmarks of astronaut.png at full precision (reference/README.md gives them
/// rounded to 0.01 px, which moves the affine by ~1e-4).
const ASTRONAUT_LANDMARKS: [[f64; 2]; 5] = [
    [203.86082482337952, 101.3025894165039],
    [246.38959169387817, 103.17833423614502],
    [224.26691555976868, 128.89697313308716],
    [201.82275295257568, 139.76607608795166],
    [244.90507078170776, 141.99066925048828],
];

fn max_abs(a: &Affine, b: &Affine) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn astronaut_affine_matches_reference() {
    let m = align::umeyama_similarity(&ASTRONAUT_LANDMARKS, &align::ffhq_template(512));
    let expected: Affine = [
        [3.0224933, 0.1545947, -440.23680],
        [-0.1545947, 3.0224933, -29.83604],
    ];
    assert!(max_abs(&m, &expected) < 1e-4, "{m:?}");
    // The rounded landmarks of the README, against facefix_ref.umeyama_similarity (SVD).
    let rounded = [
        [203.86, 101.30],
        [246.39, 103.18],
        [224.27, 128.90],
        [201.82, 139.77],
        [244.91, 141.99],
    ];
    let m = align::umeyama_similarity(&rounded, &align::ffhq_template(512));
    let svd: Affine = [
        [3.0222228988998356, 0.15451742733177268, -440.1697491280614],
        [-0.1545174273317731, 3.0222228988998356, -29.823177726698816],
    ];
    assert!(max_abs(&m, &svd) < 1e-9, "{m:?}");
}

#[test]
fn template_scales_with_size() {
    let t = align::ffhq_template(256);
    assert!((t[0][0] - 192.98138 / 2.0).abs() < 1e-12);
    assert!((t[4][1] - 371.15118 / 2.0).abs() < 1e-12);
}

#[test]
fn recovers_an_exact_similarity_and_never_reflects() {
    let dst = align::ffhq_template(512);
    // src = inverse of (scale 2.5, rotation 0.3 rad, shift) applied to the template.
    let (s, t) = (2.5f64, 0.3f64);
    let (c, n) = (t.cos() / s, t.sin() / s);
    let src = dst.map(|[x, y]| {
        [
            c * (x - 40.0) + n * (y + 7.0),
            -n * (x - 40.0) + c * (y + 7.0),
        ]
    });
    let m = align::umeyama_similarity(&src, &dst);
    for (p, q) in src.iter().zip(&dst) {
        let x = m[0][0] * p[0] + m[0][1] * p[1] + m[0][2];
        let y = m[1][0] * p[0] + m[1][1] * p[1] + m[1][2];
        assert!((x - q[0]).abs() < 1e-9 && (y - q[1]).abs() < 1e-9);
    }
    // Mirrored landmarks: the best similarity is still a rotation (det > 0).
    let mirrored = src.map(|[x, y]| [-x, y]);
    let m = align::umeyama_similarity(&mirrored, &dst);
    assert!(m[0][0] * m[1][1] - m[0][1] * m[1][0] > 0.0);
    assert_eq!(m[0][0], m[1][1]);
    assert_eq!(m[0][1], -m[1][0]);
}

#[test]
fn aligned_crop_matches_reference() {
    let img = load_rgb("images/astronaut.png");
    let (crop, _) = align::align_face(&img, &ASTRONAUT_LANDMARKS, 512);
    let req = json!({"op": "align", "landmarks": ASTRONAUT_LANDMARKS, "size": 512});
    let Some(o) = oracle(req, &[u8_input(img.as_raw(), vec![512, 512, 3])]) else {
        return;
    };
    let (max, n) = diff_u8(crop.as_raw(), &o.data);
    eprintln!("aligned crop vs reference: max diff {max}, {n} samples differ");
    assert!(
        max <= 1 && n * 1000 <= o.data.len(),
        "max {max}, {n} differ"
    );
}
