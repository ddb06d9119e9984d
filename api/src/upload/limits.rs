use clap::Args;
use facefix_shared::config::parse_bytes;

/// Limits on uploads, checked before anything is stored. The worker decodes with the same
/// pixel limits.
#[derive(Debug, Clone, Args)]
pub struct UploadLimits {
    /// Largest upload accepted (e.g. `20MiB`).
    #[arg(long, env = "FACEFIX_MAX_UPLOAD_BYTES", default_value = "20MiB", value_parser = parse_bytes)]
    pub max_upload_bytes: u64,

    /// Largest image accepted, in pixels (width × height), read from the header.
    #[arg(long, env = "FACEFIX_MAX_PIXELS", default_value_t = 40_000_000)]
    pub max_pixels: u64,

    /// Longest side accepted, in pixels.
    #[arg(long, env = "FACEFIX_MAX_SIDE", default_value_t = 12_000)]
    pub max_side: u32,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 20 << 20,
            max_pixels: 40_000_000,
            max_side: 12_000,
        }
    }
}
