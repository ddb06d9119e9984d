//! Encoding: no metadata in any output (checked structurally: PNG chunks, JPEG marker
//! segments, WebP RIFF chunks), alpha kept for PNG/WebP, lossless round trips.

mod cv_support;

use cv_support::*;
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::image::decode::decode;
use facefix_worker::pipeline::image::encode::{DEFAULT_JPEG_QUALITY, EncodeError, encode};
use image::{GrayImage, RgbImage};

/// Strings that betray metadata, searched in every header/chunk (not in compressed
/// pixel data, where any 3 bytes can occur by chance).
const FORBIDDEN: [&[u8]; 8] = [
    b"Exif",
    b"GPS",
    b"XMP",
    b"xmp",
    b"adobe",
    b"SN-0123456789",
    b"Paris",
    b"EXIF THUMB",
];

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn check_png(b: &[u8]) {
    let mut p = 8;
    let mut types = Vec::new();
    while p + 8 <= b.len() {
        let n = u32::from_be_bytes(b[p..p + 4].try_into().expect("len")) as usize;
        let typ = String::from_utf8_lossy(&b[p + 4..p + 8]).into_owned();
        if typ != "IDAT" {
            for f in FORBIDDEN {
                assert!(
                    !has(&b[p..p + 12 + n], f),
                    "PNG chunk {typ} holds {:?}",
                    String::from_utf8_lossy(f)
                );
            }
        }
        types.push(typ);
        p += 12 + n;
    }
    types.dedup();
    assert_eq!(types, ["IHDR", "IDAT", "IEND"], "PNG chunks");
}

fn check_jpeg(b: &[u8]) {
    // Marker segments up to the scan: only JFIF APP0, tables, frame and scan headers.
    let mut p = 2;
    loop {
        assert_eq!(b[p], 0xFF);
        let m = b[p + 1];
        if m == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([b[p + 2], b[p + 3]]) as usize;
        assert!(
            !matches!(m, 0xE1..=0xEF | 0xFE),
            "JPEG has marker FF{m:02X} (APPn/COM)"
        );
        if m == 0xE0 {
            assert!(b[p + 4..].starts_with(b"JFIF\0"), "APP0 is not JFIF");
        }
        for f in FORBIDDEN {
            assert!(
                !has(&b[p..p + 2 + len], f),
                "JPEG segment FF{m:02X} holds {:?}",
                String::from_utf8_lossy(f)
            );
        }
        p += 2 + len;
    }
}

fn check_webp(b: &[u8]) {
    assert_eq!(&b[..4], b"RIFF");
    assert_eq!(&b[8..12], b"WEBP");
    let mut p = 12;
    while p + 8 <= b.len() {
        let fourcc = &b[p..p + 4];
        let n = u32::from_le_bytes(b[p + 4..p + 8].try_into().expect("len")) as usize;
        assert!(
            matches!(fourcc, b"VP8L" | b"VP8 " | b"VP8X" | b"ALPH"),
            "WebP chunk {:?}",
            String::from_utf8_lossy(fourcc)
        );
        p += 8 + n + (n & 1);
    }
}

fn check(b: &[u8], format: ImageFormat) {
    match format {
        ImageFormat::Png => check_png(b),
        ImageFormat::Jpeg => check_jpeg(b),
        ImageFormat::Webp => check_webp(b),
    }
}

const FORMATS: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp];

#[test]
fn exif_gps_inputs_come_out_without_metadata() {
    for rel in [
        "bad/exif_orientation6_gps.jpg",
        "bad/exif_orientation6_gps.png",
    ] {
        let input = std::fs::read(testdata(rel)).expect("read");
        // The inputs do carry the metadata (so the check below means something).
        assert!(has(&input, b"GPS") || has(&input, b"Exif"), "{rel}");
        let d = decode(&input, &ImageLimits::default()).expect("decode");
        for format in FORMATS {
            let out =
                encode(&d.rgb, d.alpha.as_ref(), format, DEFAULT_JPEG_QUALITY).expect("encode");
            check(&out, format);
            // Upright pixels, no orientation tag: decoding gives the same size back.
            let back = decode(&out, &ImageLimits::default()).expect("decode output");
            assert_eq!(back.rgb.dimensions(), (384, 512), "{rel} as {format:?}");
            assert_eq!(back.source.orientation, 1);
        }
    }
}

#[test]
fn lossless_round_trip_keeps_pixels_and_alpha() {
    let d = decode(
        &std::fs::read(testdata("bad/rgba_transparent_edges.png")).expect("read"),
        &ImageLimits::default(),
    )
    .expect("decode");
    let alpha = d.alpha.as_ref().expect("alpha");
    for format in [ImageFormat::Png, ImageFormat::Webp] {
        let out = encode(&d.rgb, Some(alpha), format, DEFAULT_JPEG_QUALITY).expect("encode");
        check(&out, format);
        let back = decode(&out, &ImageLimits::default()).expect("decode");
        assert_eq!(back.rgb.as_raw(), d.rgb.as_raw(), "{format:?}");
        assert_eq!(
            back.alpha.as_ref().map(|a| a.as_raw()),
            Some(alpha.as_raw()),
            "{format:?}"
        );
    }
    // JPEG drops alpha.
    let out = encode(&d.rgb, Some(alpha), ImageFormat::Jpeg, 90).expect("encode");
    let back = decode(&out, &ImageLimits::default()).expect("decode");
    assert!(back.alpha.is_none());
    assert!(psnr_u8(back.rgb.as_raw(), d.rgb.as_raw()) > 30.0);
}

#[test]
fn jpeg_quality_is_honoured_and_alpha_size_checked() {
    let img = load_rgb("images/astronaut.png");
    let q95 = encode(&img, None, ImageFormat::Jpeg, 95).expect("q95");
    let q50 = encode(&img, None, ImageFormat::Jpeg, 50).expect("q50");
    assert!(q95.len() > q50.len());
    let back = decode(&q95, &ImageLimits::default()).expect("decode");
    assert!(psnr_u8(back.rgb.as_raw(), img.as_raw()) > 35.0);
    let small = GrayImage::new(3, 3);
    assert!(matches!(
        encode(&img, Some(&small), ImageFormat::Png, 95),
        Err(EncodeError::AlphaSize { .. })
    ));
    let tiny = RgbImage::new(1, 1);
    for format in FORMATS {
        check(&encode(&tiny, None, format, 95).expect("1x1"), format);
    }
}

#[test]
fn jpeg_bytes_are_the_references_bytes() {
    // Same library (libjpeg-turbo) and settings as OpenCV's imencode at quality 95: the
    // files are identical, byte for byte, on a photo and on noise (odd sizes exercise
    // the 4:2:0 edge handling).
    let photo = load_rgb("images/astronaut.png");
    let (w, h) = (37, 23);
    let noise = RgbImage::from_raw(w, h, noise_u8((w * h * 3) as usize, 11)).expect("noise");
    for (name, img) in [("astronaut", photo), ("noise 37x23", noise)] {
        let ours = encode(&img, None, ImageFormat::Jpeg, DEFAULT_JPEG_QUALITY).expect("encode");
        let shape = vec![img.height() as usize, img.width() as usize, 3];
        let Some(theirs) = oracle(
            serde_json::json!({"op": "encode_jpeg"}),
            &[u8_input(img.as_raw(), shape)],
        ) else {
            return;
        };
        assert_eq!(ours.len(), theirs.data.len(), "{name}: sizes differ");
        assert!(ours == theirs.data, "{name}: bytes differ");
    }
}

#[test]
fn large_jpegs_encoded_in_bands_decode_to_the_references_pixels() {
    // Over 4 MP the encoder cuts the image into bands on the cores and joins them with
    // restart markers: not the reference's bytes any more, but its pixels exactly.
    let photo = load_rgb("images/astronaut.png");
    let (w, h) = (2400u32, 1700u32);
    let img = RgbImage::from_fn(w, h, |x, y| *photo.get_pixel(x % 512, y % 512));
    let ours = encode(&img, None, ImageFormat::Jpeg, DEFAULT_JPEG_QUALITY).expect("encode");
    let shape = vec![h as usize, w as usize, 3];
    let Some(theirs) = oracle(
        serde_json::json!({"op": "encode_jpeg"}),
        &[u8_input(img.as_raw(), shape)],
    ) else {
        return;
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let has_restarts = ours.windows(2).any(|p| p == [0xFF, 0xD0]);
    assert_eq!(
        has_restarts,
        cores > 1,
        "banded only with more than one core"
    );
    let limits = ImageLimits::default();
    let a = decode(&ours, &limits).expect("decode ours");
    let b = decode(&theirs.data, &limits).expect("decode the reference's");
    assert_eq!(a.rgb.dimensions(), (w, h));
    assert!(a.rgb.as_raw() == b.rgb.as_raw(), "decoded pixels differ");
}
