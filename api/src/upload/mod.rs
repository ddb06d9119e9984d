//! Everything about an upload before it is stored: reading the body within the byte
//! limit, parsing options, and checking the image from its header.

pub mod body;
pub mod options;
pub mod probe;
pub mod upsampler;
