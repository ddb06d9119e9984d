//! `BlobStore` adapters: S3 (aws-sdk-s3) and the local directory of embedded mode.

pub mod dir;
pub mod s3;

pub use dir::DirBlobStore;
pub use s3::{S3BlobStore, S3Location};
