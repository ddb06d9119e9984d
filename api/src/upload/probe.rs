//! Identifies an upload from its bytes and reads its dimensions from the header alone, so
//! decompression bombs and non-images are refused before anything is decoded or stored.

use super::limits::UploadLimits;
use crate::error::ApiError;
use facefix_shared::ErrorCode;
use facefix_shared::job::ImageFormat;
use std::io::Cursor;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// The format from magic bytes; the file name and the client's Content-Type are ignored.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some(ImageFormat::Jpeg),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(ImageFormat::Png),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some(ImageFormat::Webp),
        _ => None,
    }
}

/// A human name for a few formats we refuse, so the error says what was sent.
fn known_unsupported(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [b'G', b'I', b'F', b'8', ..] => Some("GIF"),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Some("TIFF"),
        [b'B', b'M', ..] => Some("BMP"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'a',
            b'v',
            b'i',
            b'f',
            ..,
        ] => Some("AVIF"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'h',
            b'e',
            b'i',
            b'c' | b'i' | b'x' | b's',
            ..,
        ] => Some("HEIC"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'm',
            b'i',
            b'f',
            b'1',
            ..,
        ] => Some("HEIF"),
        _ => None,
    }
}

fn to_image_format(format: ImageFormat) -> image::ImageFormat {
    match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
    }
}

/// Whether the file ends the way a complete file of its format does. Catches uploads cut
/// off in transit cheaply; the worker's full decode is the final judge.
fn looks_complete(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        // The EOI marker; some cameras append a few bytes after it, so look near the end.
        ImageFormat::Jpeg => bytes[bytes.len().saturating_sub(4096)..]
            .windows(2)
            .any(|w| w == [0xFF, 0xD9]),
        // The IEND chunk (type + CRC are the last 8 bytes of a PNG).
        ImageFormat::Png => bytes[bytes.len().saturating_sub(4096)..]
            .windows(4)
            .any(|w| w == b"IEND"),
        // The RIFF header states the file size.
        ImageFormat::Webp => {
            let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
            bytes.len() >= declared.saturating_add(8)
        }
    }
}

/// Checks an upload: non-empty, a supported format, complete, and within the pixel limits.
pub fn probe(bytes: &[u8], limits: &UploadLimits) -> Result<Probed, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::new(ErrorCode::EmptyUpload, "the upload is empty"));
    }
    let Some(format) = sniff(bytes) else {
        let message = match known_unsupported(bytes) {
            Some(name) => format!("{name} images are not supported; send JPEG, PNG or WebP"),
            None => "not a JPEG, PNG or WebP image".to_string(),
        };
        return Err(ApiError::new(ErrorCode::UnsupportedFormat, message));
    };
    let reader = image::ImageReader::with_format(Cursor::new(bytes), to_image_format(format));
    let (width, height) = reader.into_dimensions().map_err(|e| {
        ApiError::new(
            ErrorCode::CorruptImage,
            format!("cannot read the image header: {e}"),
        )
    })?;
    check_dimensions(width, height, limits)?;
    if !looks_complete(format, bytes) {
        return Err(ApiError::new(
            ErrorCode::CorruptImage,
            "the image is truncated (the file ends early)",
        ));
    }
    Ok(Probed {
        format,
        width,
        height,
    })
}

fn check_dimensions(width: u32, height: u32, limits: &UploadLimits) -> Result<(), ApiError> {
    if width == 0 || height == 0 {
        return Err(ApiError::new(
            ErrorCode::CorruptImage,
            "the image has no pixels",
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(ApiError::new(
            ErrorCode::TooManyPixels,
            format!(
                "the image is {width}×{height} ({:.1} MP); the limit is {} px a side and {:.1} MP",
                pixels as f64 / 1e6,
                limits.max_side,
                limits.max_pixels as f64 / 1e6
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's `testdata/` folder.
    fn testdata_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
    }

    fn testdata(path: &str) -> Vec<u8> {
        let full = testdata_dir().join(path);
        std::fs::read(&full).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (generated files: run `bash scripts/setup-testdata.sh`)",
                full.display()
            )
        })
    }

    fn code_of(path: &str) -> Result<ImageFormat, ErrorCode> {
        probe(&testdata(path), &UploadLimits::default())
            .map(|p| p.format)
            .map_err(|e| e.code)
    }

    #[test]
    fn good_images_are_identified_by_content() {
        assert_eq!(code_of("images/astronaut.png"), Ok(ImageFormat::Png));
        assert_eq!(code_of("images/grace_hopper.jpg"), Ok(ImageFormat::Jpeg));
        assert_eq!(code_of("images/astronaut.webp"), Ok(ImageFormat::Webp));
        assert_eq!(code_of("bad/png_named_as.jpg"), Ok(ImageFormat::Png));
        let large = probe(
            &testdata("images/large_7680x4320.jpg"),
            &UploadLimits::default(),
        )
        .expect("33 MP is allowed");
        assert_eq!((large.width, large.height), (7680, 4320));
    }

    #[test]
    fn every_bad_input_has_a_defined_answer() {
        let expected = [
            (
                "bad/animated_4frames.gif",
                Err(ErrorCode::UnsupportedFormat),
            ),
            (
                "bad/bomb_12000x12000_1bit_below_pillow_limit.png",
                Err(ErrorCode::TooManyPixels),
            ),
            (
                "bad/bomb_60000x60000_1bit_valid.png",
                Err(ErrorCode::TooManyPixels),
            ),
            (
                "bad/bomb_60000x60000_rgb_header_claim.png",
                Err(ErrorCode::TooManyPixels),
            ),
            ("bad/cmyk.jpg", Ok(ImageFormat::Jpeg)),
            ("bad/empty.jpg", Err(ErrorCode::EmptyUpload)),
            ("bad/exif_orientation6_gps.jpg", Ok(ImageFormat::Jpeg)),
            ("bad/exif_orientation6_gps.png", Ok(ImageFormat::Png)),
            ("bad/gray16_lowrange.png", Ok(ImageFormat::Png)),
            (
                "bad/jpeg_sof_65000x65000.jpg",
                Err(ErrorCode::TooManyPixels),
            ),
            ("bad/not_an_image.jpg", Err(ErrorCode::UnsupportedFormat)),
            ("bad/png_named_as.jpg", Ok(ImageFormat::Png)),
            ("bad/rgb16.png", Ok(ImageFormat::Png)),
            ("bad/rgba_transparent_edges.png", Ok(ImageFormat::Png)),
            ("bad/truncated.jpg", Err(ErrorCode::CorruptImage)),
            (
                "bad/truncated_header_only.jpg",
                Err(ErrorCode::CorruptImage),
            ),
        ];
        for (path, want) in expected {
            assert_eq!(code_of(path), want, "{path}");
        }
        let listed = std::fs::read_dir(testdata_dir().join("bad"))
            .expect("testdata/bad")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "README.md")
            .count();
        assert_eq!(
            listed,
            expected.len(),
            "a file in testdata/bad has no expected answer here"
        );
    }

    #[test]
    fn other_formats_are_named_in_the_error() {
        let heic =
            probe(&testdata("images/astronaut.heic"), &UploadLimits::default()).expect_err("heic");
        assert_eq!(heic.code, ErrorCode::UnsupportedFormat);
        assert!(heic.message.contains("HEI"), "{}", heic.message);
        for path in ["images/astronaut.avif", "images/astronaut.tif"] {
            assert_eq!(code_of(path), Err(ErrorCode::UnsupportedFormat), "{path}");
        }
    }

    #[test]
    fn limits_are_configurable() {
        let tight = UploadLimits {
            max_side: 256,
            ..UploadLimits::default()
        };
        let error =
            probe(&testdata("images/astronaut.png"), &tight).expect_err("over the side limit");
        assert_eq!(error.code, ErrorCode::TooManyPixels);
    }
}
