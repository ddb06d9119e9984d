//! Face alignment: the similarity that maps a face's 5 landmarks onto the FFHQ template,
//! and the warped S×S crop (brief §1.4, `facefix_ref.align_face`).

use super::cv::{self, Affine};
use image::RgbImage;

/// FFHQ 5-point template of a 512×512 crop, (x, y): left eye, right eye, nose, mouth
/// left, mouth right (image-left / image-right), facexlib's numbers.
const FFHQ_512: [[f64; 2]; 5] = [
    [192.98138, 239.94708],
    [318.90277, 240.19360],
    [256.63416, 314.01935],
    [201.26117, 371.41043],
    [313.08905, 371.15118],
];

/// Border of the aligned crop: the reference's BGR (135, 133, 132) in RGB order.
pub const CROP_BORDER_RGB: [u8; 3] = [132, 133, 135];

/// The FFHQ template scaled to an `size × size` crop (`× size / 512`).
pub fn ffhq_template(size: u32) -> [[f64; 2]; 5] {
    let k = f64::from(size) / 512.0;
    FFHQ_512.map(|[x, y]| [x * k, y * k])
}

fn mean(p: &[[f64; 2]; 5]) -> [f64; 2] {
    let s = p.iter().fold([0.0, 0.0], |a, q| [a[0] + q[0], a[1] + q[1]]);
    [s[0] / 5.0, s[1] / 5.0]
}

/// Least-squares similarity (uniform scale, rotation, translation; no reflection)
/// mapping `src` onto `dst`: Umeyama's estimate, in its 2-D closed form.
///
/// With centred points s, d, the optimal `[[a, −b], [b, a]]` is
/// `a = Σ(s·d) / Σ|s|²`, `b = Σ(s × d) / Σ|s|²`. This equals Umeyama's SVD solution with
/// the reflection correction (when det(cov) < 0 its scale `(σ1 − σ2)/var` is exactly
/// `√(a² + b²)`), i.e. `facefix_ref.umeyama_similarity`, and OpenCV's LMEDS estimate on
/// clean points (brief §1.4). Degenerate input (all `src` points equal) gives the
/// translation that maps the mean onto the mean.
pub fn umeyama_similarity(src: &[[f64; 2]; 5], dst: &[[f64; 2]; 5]) -> Affine {
    let (ms, md) = (mean(src), mean(dst));
    let (mut dot, mut cross, mut var) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy) = (s[0] - ms[0], s[1] - ms[1]);
        let (dx, dy) = (d[0] - md[0], d[1] - md[1]);
        dot += sx * dx + sy * dy;
        cross += sx * dy - sy * dx;
        var += sx * sx + sy * sy;
    }
    let (a, b) = if var > 0.0 {
        (dot / var, cross / var)
    } else {
        (1.0, 0.0)
    };
    [
        [a, -b, md[0] - (a * ms[0] - b * ms[1])],
        [b, a, md[1] - (b * ms[0] + a * ms[1])],
    ]
}

/// Aligns one face: the similarity from `landmarks` to the template of a `size` crop and
/// the crop itself (`cv2.warpAffine`, bilinear, border RGB (132, 133, 135)).
pub fn align_face(img: &RgbImage, landmarks: &[[f64; 2]; 5], size: u32) -> (RgbImage, Affine) {
    let m = umeyama_similarity(landmarks, &ffhq_template(size));
    (cv::warp_affine(img, &m, size, size, CROP_BORDER_RGB), m)
}
