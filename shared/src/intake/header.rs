//! Dimensions from the header of each format, and the whole header check the API and the
//! worker run before anything else.

use super::jpeg::frame_dimensions;
use super::{ImageLimits, IntakeError, sniff};
use crate::job::ImageFormat;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Non-empty, a supported format, readable dimensions within `limits`: the checks every
/// upload passes before it is stored or decoded, in this order.
pub fn read_header(bytes: &[u8], limits: &ImageLimits) -> Result<Header, IntakeError> {
    if bytes.is_empty() {
        return Err(IntakeError::EmptyUpload);
    }
    let format = sniff(bytes)?;
    let (width, height) = dimensions(bytes, format)?;
    limits.check(width, height)?;
    Ok(Header {
        format,
        width,
        height,
    })
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        0,
    ]))
}

/// `(width, height)` from the header of an image already sniffed as `format`.
pub fn dimensions(b: &[u8], format: ImageFormat) -> Result<(u32, u32), IntakeError> {
    let dims = match format {
        ImageFormat::Png => {
            // IHDR must be the first chunk: length 13, then width and height.
            if b.get(12..16) != Some(b"IHDR") {
                return Err(IntakeError::corrupt("PNG without IHDR"));
            }
            be32(b, 16).zip(be32(b, 20))
        }
        ImageFormat::Jpeg => frame_dimensions(b).map_err(IntakeError::corrupt)?,
        ImageFormat::Webp => webp_dimensions(b),
    };
    match dims {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        Some(_) => Err(IntakeError::corrupt("the image has no pixels")),
        None => Err(IntakeError::corrupt("truncated image header")),
    }
}

fn webp_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        // Lossy: frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
        b"VP8 " => {
            if b.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF))
        }
        // Lossless: signature 0x2f, then (width − 1) and (height − 1) in 14 bits each.
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        // Extended: canvas (width − 1) and (height − 1) in 24 bits each.
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::jpeg::tests::jpeg;
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]);
        b
    }

    fn webp(chunk: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WEBP".to_vec();
        b.extend_from_slice(chunk);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn dimensions_of_each_format() {
        assert_eq!(dimensions(&png(640, 480), ImageFormat::Png), Ok((640, 480)));
        assert_eq!(
            dimensions(&jpeg(7680, 4320, true), ImageFormat::Jpeg),
            Ok((7680, 4320))
        );
        // Lossy: frame tag, start code, 14-bit sizes (the top two bits are the scale).
        let lossy = webp(
            b"VP8 ",
            &[0, 0, 0, 0x9D, 0x01, 0x2A, 0x00, 0x42, 0x00, 0xC1],
        );
        assert_eq!(dimensions(&lossy, ImageFormat::Webp), Ok((512, 256)));
        // Lossless: 511 and 255 in 14 bits each, stored minus one.
        let bits: u32 = 511 | (255 << 14);
        let mut body = vec![0x2F];
        body.extend_from_slice(&bits.to_le_bytes());
        let lossless = webp(b"VP8L", &body);
        assert_eq!(dimensions(&lossless, ImageFormat::Webp), Ok((512, 256)));
        // Extended: 24-bit canvas sizes minus one, after 4 bytes of flags.
        let extended = webp(b"VP8X", &[0, 0, 0, 0, 0xFF, 0x01, 0, 0xFF, 0, 0]);
        assert_eq!(dimensions(&extended, ImageFormat::Webp), Ok((512, 256)));
    }

    #[test]
    fn broken_headers_are_corrupt() {
        let code = |r: Result<(u32, u32), IntakeError>| r.map_err(|e| e.code());
        let corrupt = Err(crate::ErrorCode::CorruptImage);
        assert_eq!(code(dimensions(&png(0, 10), ImageFormat::Png)), corrupt);
        assert_eq!(
            code(dimensions(&png(9, 9)[..20], ImageFormat::Png)),
            corrupt
        );
        let mut no_ihdr = png(9, 9);
        no_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(code(dimensions(&no_ihdr, ImageFormat::Png)), corrupt);
        assert_eq!(
            code(dimensions(&jpeg(9, 9, true)[..14], ImageFormat::Jpeg)),
            corrupt
        );
        assert_eq!(
            code(dimensions(&webp(b"VP8 ", &[0; 3]), ImageFormat::Webp)),
            corrupt
        );
    }

    #[test]
    fn the_header_check_runs_in_order() {
        let limits = ImageLimits::default();
        assert_eq!(read_header(b"", &limits), Err(IntakeError::EmptyUpload));
        assert_eq!(
            read_header(b"GIF89a", &limits),
            Err(IntakeError::UnsupportedFormat(Some("GIF")))
        );
        assert!(matches!(
            read_header(&png(60_000, 60_000), &limits),
            Err(IntakeError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                ..
            })
        ));
        assert_eq!(
            read_header(&png(640, 480), &limits),
            Ok(Header {
                format: ImageFormat::Png,
                width: 640,
                height: 480
            })
        );
    }
}
