//! The image intake: what an upload is and whether it may be processed, read from its
//! bytes alone. One module for the API (which refuses before anything is stored) and the
//! worker (which refuses before anything is decoded), so both name formats, read
//! dimensions and apply the limits the same way.
//!
//! Nothing here decodes pixels or allocates in proportion to what a header claims, so a
//! decompression bomb costs microseconds to refuse.

mod complete;
mod error;
mod header;
mod jpeg;
mod limits;
mod sniff;

pub use complete::looks_complete;
pub use error::IntakeError;
pub use header::{Header, dimensions, read_header};
pub use jpeg::{JpegSegment, jpeg_is_complete, jpeg_segments};
pub use limits::{
    DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DEFAULT_MAX_UPLOAD_BYTES, ImageLimits, UploadLimits,
};
pub use sniff::sniff;
