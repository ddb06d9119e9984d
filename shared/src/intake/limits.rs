//! The input limits, in one place for every role and under one set of flags: the API
//! checks them on the header before storing, the worker again before decoding, and
//! `facefix restore` before reading pixels.

use super::IntakeError;
use crate::config::parse_bytes;
use clap::Args;

/// 40 MP: the 33 MP test photo passes; the 144 MP "below Pillow's limit" bomb does not.
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;
/// Longest side accepted by default.
pub const DEFAULT_MAX_SIDE: u32 = 12_000;
/// Largest upload accepted by default (20 MiB).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 << 20;

/// How large an image may be, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct ImageLimits {
    /// Largest image accepted, in pixels (width × height), read from the header.
    // `--max-input-pixels` is how `facefix restore` spelled it before the roles shared
    // these flags; kept, hidden, so scripts written against the old docs still work.
    #[arg(long, env = "FACEFIX_MAX_PIXELS", default_value_t = DEFAULT_MAX_PIXELS, alias = "max-input-pixels")]
    pub max_pixels: u64,

    /// Longest side accepted, in pixels.
    #[arg(long, env = "FACEFIX_MAX_SIDE", default_value_t = DEFAULT_MAX_SIDE, alias = "max-input-side")]
    pub max_side: u32,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_side: DEFAULT_MAX_SIDE,
        }
    }
}

impl ImageLimits {
    /// Refuses a `width` × `height` image over either limit.
    pub fn check(&self, width: u32, height: u32) -> Result<(), IntakeError> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels || width.max(height) > self.max_side {
            return Err(self.refusal(width, height));
        }
        Ok(())
    }

    /// The error for a `width` × `height` image found over the limits (also by a
    /// decoder's own allocation limits).
    pub fn refusal(&self, width: u32, height: u32) -> IntakeError {
        IntakeError::TooManyPixels {
            width,
            height,
            max_pixels: self.max_pixels,
            max_side: self.max_side,
        }
    }
}

/// Limits on uploads: their size in bytes, and the image limits.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UploadLimits {
    /// Largest upload accepted (e.g. `20MiB`).
    #[arg(long, env = "FACEFIX_MAX_UPLOAD_BYTES", default_value = "20MiB", value_parser = parse_bytes)]
    pub max_upload_bytes: u64,

    #[command(flatten)]
    pub image: ImageLimits,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            image: ImageLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: UploadLimits,
    }

    #[test]
    fn defaults_match_the_flags() {
        let cli = Cli::try_parse_from(["x"]).expect("parse");
        assert_eq!(cli.limits, UploadLimits::default());
    }

    #[test]
    fn flags_and_the_old_restore_spelling() {
        let cli =
            Cli::try_parse_from(["x", "--max-pixels", "100", "--max-side", "20"]).expect("parse");
        assert_eq!(
            (cli.limits.image.max_pixels, cli.limits.image.max_side),
            (100, 20)
        );
        let old = Cli::try_parse_from(["x", "--max-input-pixels", "7", "--max-input-side", "3"])
            .expect("parse the old spelling");
        assert_eq!(
            (old.limits.image.max_pixels, old.limits.image.max_side),
            (7, 3)
        );
        let bytes = Cli::try_parse_from(["x", "--max-upload-bytes", "1MiB"]).expect("parse");
        assert_eq!(bytes.limits.max_upload_bytes, 1 << 20);
    }

    #[test]
    fn either_limit_refuses() {
        let limits = ImageLimits {
            max_pixels: 100,
            max_side: 20,
        };
        assert_eq!(limits.check(10, 10), Ok(()));
        assert_eq!(limits.check(20, 5), Ok(()));
        assert!(matches!(
            limits.check(11, 10),
            Err(IntakeError::TooManyPixels { width: 11, .. })
        ));
        assert!(matches!(
            limits.check(21, 1),
            Err(IntakeError::TooManyPixels { max_side: 20, .. })
        ));
    }
}
