//! Everything about an upload before it is stored: reading the body within the byte
//! limit, the deadline and the process's memory budget, parsing options, and checking the
//! image from its header.

pub mod body;
pub mod flow;
pub mod options;
pub mod probe;
pub mod upsampler;
pub mod webhook;
