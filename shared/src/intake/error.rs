//! Why an upload is refused, with the stable code clients see.

use crate::ErrorCode;

/// Why an image cannot be taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("the upload is empty")]
    EmptyUpload,
    /// Not JPEG, PNG or WebP; the name of the format when it is one we recognise.
    #[error("{}", unsupported_message(*.0))]
    UnsupportedFormat(Option<&'static str>),
    /// A supported format in a variant that is not decoded (e.g. a 12-bit JPEG).
    #[error("unsupported image: {0}")]
    UnsupportedEncoding(String),
    #[error(
        "the image is {width}×{height} ({:.1} MP); the limit is {max_side} px a side and {:.1} MP",
        megapixels(u64::from(*width) * u64::from(*height)),
        megapixels(*max_pixels)
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    #[error("the image is corrupt or truncated: {0}")]
    CorruptImage(String),
}

fn unsupported_message(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} images are not supported; send JPEG, PNG or WebP"),
        None => "not a JPEG, PNG or WebP image".to_string(),
    }
}

fn megapixels(pixels: u64) -> f64 {
    pixels as f64 / 1e6
}

impl IntakeError {
    pub fn corrupt(why: impl Into<String>) -> Self {
        Self::CorruptImage(why.into())
    }

    /// The API error code this is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::EmptyUpload => ErrorCode::EmptyUpload,
            Self::UnsupportedFormat(_) | Self::UnsupportedEncoding(_) => {
                ErrorCode::UnsupportedFormat
            }
            Self::TooManyPixels { .. } => ErrorCode::TooManyPixels,
            Self::CorruptImage(_) => ErrorCode::CorruptImage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_was_sent_and_what_is_allowed() {
        let heic = IntakeError::UnsupportedFormat(Some("HEIC"));
        assert_eq!(
            heic.to_string(),
            "HEIC images are not supported; send JPEG, PNG or WebP"
        );
        assert_eq!(heic.code(), ErrorCode::UnsupportedFormat);
        let big = IntakeError::TooManyPixels {
            width: 60_000,
            height: 60_000,
            max_pixels: 40_000_000,
            max_side: 12_000,
        };
        assert_eq!(
            big.to_string(),
            "the image is 60000×60000 (3600.0 MP); the limit is 12000 px a side and 40.0 MP"
        );
        assert_eq!(big.code(), ErrorCode::TooManyPixels);
        assert_eq!(IntakeError::EmptyUpload.code(), ErrorCode::EmptyUpload);
        let twelve_bit = IntakeError::UnsupportedEncoding("12-bit JPEG".into());
        assert_eq!(twelve_bit.code(), ErrorCode::UnsupportedFormat);
        assert_eq!(IntakeError::corrupt("x").code(), ErrorCode::CorruptImage);
    }
}
