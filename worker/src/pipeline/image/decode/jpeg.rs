//! JPEG decoding with libjpeg-turbo (TurboJPEG 3 API), the library OpenCV decodes JPEG
//! with: same accurate integer IDCT, same "fancy" chroma upsampling, same colour
//! conversion, so the pixels are the reference's bit for bit (`tests/cv_decode.rs`).
//! MTCNN amplifies a few LSB of decoder difference into pixels of landmark movement, so
//! matching the reference on as-uploaded JPEGs needs the same decoder, not a close one.
//!
//! Why raw bindings and not the `turbojpeg` crate's safe API: TurboJPEG reports a
//! *warning* (e.g. "extraneous bytes before marker", common in camera files) with the
//! same -1 return as a fatal error, and only `tj3GetErrorCode` tells them apart; the safe
//! crate drops that code. OpenCV (libjpeg's default handler) decodes through warnings,
//! so we must too. The handle is `image::turbo`'s; the one unsafe call here is the decode.
#![allow(unsafe_code)]

use super::convert::Planes;
use crate::pipeline::image::turbo::{self, Direction};
use facefix_shared::intake::IntakeError;
use image::{GrayImage, RgbImage};
use turbojpeg_sys as tj;

/// Progressive files can hold thousands of tiny scans that each cost a full pass over
/// the coefficients; libjpeg-turbo's own tools cap them at 500 for untrusted input.
const SCAN_LIMIT: i32 = 500;

/// A decompression handle whose errors are the input's fault.
struct Handle(turbo::Handle);

impl Handle {
    fn new() -> Result<Self, IntakeError> {
        turbo::Handle::new(Direction::Decompress)
            .map(Self)
            .ok_or_else(|| {
                IntakeError::CorruptImage("libjpeg-turbo could not start a decoder".into())
            })
    }

    fn set(&mut self, param: tj::TJPARAM, value: i32) -> Result<(), IntakeError> {
        self.0.set(param, value).map_err(IntakeError::CorruptImage)
    }

    fn get(&mut self, param: tj::TJPARAM) -> i32 {
        self.0.get(param)
    }

    /// Warnings pass, as with OpenCV.
    fn check(&mut self, rc: i32) -> Result<(), IntakeError> {
        self.0.check(rc, true).map_err(IntakeError::CorruptImage)
    }
}

/// Decodes a JPEG whose header dimensions were already checked against the limits
/// (`max_pixels` is enforced again by libjpeg-turbo itself).
pub(super) fn decode(bytes: &[u8], max_pixels: u64) -> Result<Planes, IntakeError> {
    let mut h = Handle::new()?;
    h.set(tj::TJPARAM_TJPARAM_SCANLIMIT, SCAN_LIMIT)?;
    h.set(
        tj::TJPARAM_TJPARAM_MAXPIXELS,
        i32::try_from(max_pixels).unwrap_or(i32::MAX),
    )?;
    // Progressive decoding buffers every coefficient (2 bytes × 3 components a pixel at
    // worst); anything past that plus slack is not a real photo.
    let max_mb = max_pixels.saturating_mul(6) >> 20;
    h.set(
        tj::TJPARAM_TJPARAM_MAXMEMORY,
        i32::try_from(max_mb + 64).unwrap_or(i32::MAX),
    )?;
    let len = bytes.len() as tj::size_t;
    // SAFETY: `bytes` outlives the call and `len` is its length.
    let rc = unsafe { tj::tj3DecompressHeader(h.0.raw(), bytes.as_ptr(), len) };
    h.check(rc)?;
    let width = usize::try_from(h.get(tj::TJPARAM_TJPARAM_JPEGWIDTH)).unwrap_or(0);
    let height = usize::try_from(h.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT)).unwrap_or(0);
    if width == 0 || height == 0 {
        return Err(IntakeError::CorruptImage("JPEG header has no size".into()));
    }
    let precision = h.get(tj::TJPARAM_TJPARAM_PRECISION);
    if precision != 8 {
        return Err(IntakeError::UnsupportedEncoding(format!(
            "{precision}-bit JPEG (8-bit JPEG only)"
        )));
    }
    let colorspace = h.get(tj::TJPARAM_TJPARAM_COLORSPACE) as u32;
    let (pixel_format, samples) = match colorspace {
        tj::TJCS_TJCS_GRAY => (tj::TJPF_TJPF_GRAY, 1),
        tj::TJCS_TJCS_CMYK | tj::TJCS_TJCS_YCCK => (tj::TJPF_TJPF_CMYK, 4),
        _ => (tj::TJPF_TJPF_RGB, 3),
    };
    let mut buf = vec![0u8; width * height * samples];
    // SAFETY: `buf` holds width × height pixels of `pixel_format` at pitch 0 (= packed
    // rows), which is exactly what tj3Decompress8 writes at scaling factor 1.
    let rc = unsafe {
        tj::tj3Decompress8(
            h.0.raw(),
            bytes.as_ptr(),
            len,
            buf.as_mut_ptr(),
            0,
            pixel_format,
        )
    };
    h.check(rc)?;
    let (w, ht) = (width as u32, height as u32);
    let rgb = match samples {
        1 => {
            let gray = GrayImage::from_raw(w, ht, buf).ok_or_else(size_error)?;
            super::convert::gray_to_rgb(&gray)
        }
        4 => RgbImage::from_raw(w, ht, cmyk_to_rgb(&buf)).ok_or_else(size_error)?,
        _ => RgbImage::from_raw(w, ht, buf).ok_or_else(size_error)?,
    };
    Ok(Planes {
        rgb,
        alpha: None,
        // OpenCV reads gray JPEGs as one channel, CMYK ones as three (it converts them).
        channels: if samples == 1 { 1 } else { 3 },
        bit_depth: 8,
    })
}

fn size_error() -> IntakeError {
    IntakeError::CorruptImage("decoded buffer does not match the JPEG size".into())
}

/// CMYK as libjpeg returns it (Adobe files store inverted ink, so 255 = none) → RGB,
/// with OpenCV's integer formula (`icvCvt_CMYK2BGR_8u_C4C3R`): `k − (255 − c)·k >> 8`.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = i32::from(px[3]);
        for &c in &px[..3] {
            out.push((k - (((255 - i32::from(c)) * k) >> 8)) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_formula_matches_opencv_corners() {
        // No ink at full "K" byte (inverted Adobe) is white; full key is black.
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255]), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 0]), vec![0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 128, 255, 255]), vec![1, 129, 255]);
    }

    #[test]
    fn garbage_after_the_soi_marker_is_a_corrupt_image() {
        let e =
            decode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2, 0xFF, 0xD9], 1 << 20).expect_err("not a JPEG");
        assert!(matches!(e, IntakeError::CorruptImage(_)), "{e:?}");
    }
}
