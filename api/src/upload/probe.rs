//! Identifies an upload from its bytes and reads its dimensions from the header alone
//! (the shared intake), so decompression bombs and non-images are refused before anything
//! is decoded or stored.

use crate::error::ApiError;
use facefix_shared::intake::{self, Header, IntakeError, UploadLimits};

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// Checks an upload: non-empty, a supported format, within the pixel limits, and not cut
/// short.
pub fn probe(bytes: &[u8], limits: &UploadLimits) -> Result<Header, ApiError> {
    let header = intake::read_header(bytes, &limits.image)?;
    if !intake::looks_complete(header.format, bytes) {
        return Err(IntakeError::corrupt("the file ends early").into());
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::ErrorCode;
    use facefix_shared::job::ImageFormat;

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
        let mut tight = UploadLimits::default();
        tight.image.max_side = 256;
        let error =
            probe(&testdata("images/astronaut.png"), &tight).expect_err("over the side limit");
        assert_eq!(error.code, ErrorCode::TooManyPixels);
    }
}
