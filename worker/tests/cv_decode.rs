//! Decoding: what each test input must produce (pixels, refusal, error code) and pixel
//! parity with `facefix_ref.decode_image` (every format exact).

mod cv_support;

use cv_support::*;
use facefix_shared::ErrorCode;
use facefix_shared::intake::{ImageLimits, IntakeError};
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::image::decode::{Decoded, decode};
use serde_json::json;
use std::time::Instant;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(rel)).expect("read test file")
}

fn dec(rel: &str) -> Result<Decoded, IntakeError> {
    decode(&read(rel), &ImageLimits::default())
}

fn code(rel: &str) -> ErrorCode {
    match dec(rel) {
        Ok(_) => panic!("{rel} decoded, expected a refusal"),
        Err(e) => e.code(),
    }
}

#[test]
fn refusals_have_the_right_codes() {
    for (rel, want) in [
        ("bad/empty.jpg", ErrorCode::EmptyUpload),
        ("bad/not_an_image.jpg", ErrorCode::UnsupportedFormat),
        ("bad/animated_4frames.gif", ErrorCode::UnsupportedFormat),
        ("images/astronaut.heic", ErrorCode::UnsupportedFormat),
        ("images/astronaut.avif", ErrorCode::UnsupportedFormat),
        ("images/astronaut.tif", ErrorCode::UnsupportedFormat),
        ("bad/truncated.jpg", ErrorCode::CorruptImage),
        ("bad/truncated_header_only.jpg", ErrorCode::CorruptImage),
        ("bad/jpeg_sof_65000x65000.jpg", ErrorCode::TooManyPixels),
        (
            "bad/bomb_60000x60000_1bit_valid.png",
            ErrorCode::TooManyPixels,
        ),
        (
            "bad/bomb_60000x60000_rgb_header_claim.png",
            ErrorCode::TooManyPixels,
        ),
        (
            "bad/bomb_12000x12000_1bit_below_pillow_limit.png",
            ErrorCode::TooManyPixels,
        ),
    ] {
        assert_eq!(code(rel), want, "{rel}");
    }
}

#[test]
fn bombs_are_refused_from_the_header_without_decoding() {
    // Decoding 144 MP would take seconds and ~0.5 GB; the header check takes microseconds.
    for rel in [
        "bad/bomb_12000x12000_1bit_below_pillow_limit.png",
        "bad/bomb_60000x60000_1bit_valid.png",
    ] {
        let bytes = read(rel);
        let t = Instant::now();
        let r = decode(&bytes, &ImageLimits::default());
        assert!(matches!(r, Err(IntakeError::TooManyPixels { .. })), "{rel}");
        assert!(t.elapsed().as_millis() < 50, "{rel} took {:?}", t.elapsed());
    }
    // The side limit alone also refuses.
    let limits = ImageLimits {
        max_pixels: u64::MAX,
        max_side: 511,
    };
    assert!(matches!(
        decode(&read("images/astronaut.png"), &limits),
        Err(IntakeError::TooManyPixels {
            width: 512,
            height: 512,
            ..
        })
    ));
}

#[test]
fn cut_files_are_corrupt() {
    for rel in [
        "images/astronaut.png",
        "images/astronaut.webp",
        "images/grace_hopper.jpg",
        "images/astronaut_interlaced.png",
    ] {
        let bytes = read(rel);
        for frac in [0.3, 0.6, 0.95] {
            let cut = &bytes[..(bytes.len() as f64 * frac) as usize];
            match decode(cut, &ImageLimits::default()) {
                Err(e) => assert_eq!(
                    e.code(),
                    ErrorCode::CorruptImage,
                    "{rel} cut at {frac}: {e}"
                ),
                Ok(_) => panic!("{rel} cut at {frac} decoded"),
            }
        }
    }
}

#[test]
fn accepted_inputs_and_their_source_info() {
    for (rel, format, size, channels, depth, orientation, alpha) in [
        (
            "images/astronaut.png",
            ImageFormat::Png,
            (512, 512),
            3,
            8,
            1,
            false,
        ),
        (
            "images/astronaut_gray_L.png",
            ImageFormat::Png,
            (512, 512),
            1,
            8,
            1,
            false,
        ),
        (
            "images/astronaut_palette.png",
            ImageFormat::Png,
            (512, 512),
            3,
            8,
            1,
            false,
        ),
        (
            "images/astronaut_interlaced.png",
            ImageFormat::Png,
            (512, 512),
            3,
            8,
            1,
            false,
        ),
        (
            "images/astronaut.webp",
            ImageFormat::Webp,
            (512, 512),
            3,
            8,
            1,
            false,
        ),
        (
            "images/grace_hopper.jpg",
            ImageFormat::Jpeg,
            (512, 600),
            3,
            8,
            1,
            false,
        ),
        (
            "bad/png_named_as.jpg",
            ImageFormat::Png,
            (256, 256),
            3,
            8,
            1,
            false,
        ),
        (
            "bad/cmyk.jpg",
            ImageFormat::Jpeg,
            (512, 512),
            3,
            8,
            1,
            false,
        ),
        (
            "bad/rgb16.png",
            ImageFormat::Png,
            (512, 512),
            3,
            16,
            1,
            false,
        ),
        (
            "bad/gray16_lowrange.png",
            ImageFormat::Png,
            (512, 512),
            1,
            16,
            1,
            false,
        ),
        (
            "bad/rgba_transparent_edges.png",
            ImageFormat::Png,
            (512, 512),
            4,
            8,
            1,
            true,
        ),
        (
            "bad/exif_orientation6_gps.jpg",
            ImageFormat::Jpeg,
            (384, 512),
            3,
            8,
            6,
            false,
        ),
        (
            "bad/exif_orientation6_gps.png",
            ImageFormat::Png,
            (384, 512),
            3,
            8,
            6,
            false,
        ),
    ] {
        let d = dec(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(d.format, format, "{rel}");
        assert_eq!(d.rgb.dimensions(), size, "{rel}");
        let s = d.source;
        assert_eq!(
            (s.channels, s.bit_depth, s.orientation, s.had_alpha),
            (channels, depth, orientation, alpha),
            "{rel}"
        );
        assert_eq!(d.alpha.is_some(), alpha, "{rel}");
        if let Some(a) = &d.alpha {
            assert_eq!(a.dimensions(), size);
        }
    }
    // 16-bit: round(x / 257) of the 8-bit original ×257 is the original.
    let a = dec("images/astronaut.png").expect("png");
    assert_eq!(
        dec("bad/rgb16.png").expect("rgb16").rgb.as_raw(),
        a.rgb.as_raw()
    );
}

/// Our decode against the reference's; returns (max diff, differing samples, mean |diff|).
fn against_reference(rel: &str) -> Option<(u8, usize, f64)> {
    let d = dec(rel).expect("decode");
    let o = oracle(json!({"op": "decode", "file": testdata(rel)}), &[])?;
    assert_eq!(
        o.shape,
        vec![d.rgb.height() as usize, d.rgb.width() as usize, 3],
        "{rel}"
    );
    if let Some(a) = &d.alpha {
        let ref_alpha =
            std::fs::read(o.out_path.with_extension("bin.alpha")).expect("reference alpha");
        assert_eq!(a.as_raw(), &ref_alpha, "{rel} alpha");
    }
    let (max, n) = diff_u8(d.rgb.as_raw(), &o.data);
    let mean = d
        .rgb
        .as_raw()
        .iter()
        .zip(&o.data)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / o.data.len() as f64;
    eprintln!(
        "{rel}: max diff {max}, {n} of {} samples differ, mean |diff| {mean:.3}",
        o.data.len()
    );
    Some((max, n, mean))
}

#[test]
fn lossless_formats_match_reference_exactly() {
    for rel in [
        "images/astronaut.png",
        "images/astronaut_gray_L.png",
        "images/astronaut_palette.png",
        "images/astronaut_interlaced.png",
        "bad/rgb16.png",
        "bad/gray16_lowrange.png",
        "bad/rgba_transparent_edges.png",
        "bad/exif_orientation6_gps.png",
        "bad/png_named_as.jpg",
    ] {
        let Some((max, _, _)) = against_reference(rel) else {
            return;
        };
        assert_eq!(max, 0, "{rel}");
    }
}

#[test]
fn jpeg_and_webp_match_reference_exactly() {
    // JPEG through libjpeg-turbo on both sides (OpenCV bundles it): same IDCT, upsampling
    // and colour conversion, so no sample may differ; the CMYK file also checks OpenCV's
    // CMYK → BGR formula. WebP (lossless here) through image-webp and libwebp.
    for rel in [
        "images/astronaut.webp",
        "images/grace_hopper.jpg",
        "images/large_7680x4320.jpg",
        "bad/cmyk.jpg",
        "bad/exif_orientation6_gps.jpg",
    ] {
        let Some((max, n, _)) = against_reference(rel) else {
            return;
        };
        assert_eq!((max, n), (0, 0), "{rel}");
    }
}
