//! The format from the magic bytes; a file's name and the client's Content-Type are never
//! trusted.

use super::IntakeError;
use crate::job::ImageFormat;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// JPEG, PNG or WebP; anything else is refused, named when we recognise it.
pub fn sniff(b: &[u8]) -> Result<ImageFormat, IntakeError> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if b.starts_with(PNG_SIGNATURE) {
        return Ok(ImageFormat::Png);
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(ImageFormat::Webp);
    }
    Err(IntakeError::UnsupportedFormat(refused_format_name(b)))
}

/// A human name for formats people send by mistake, so the error says what was sent.
fn refused_format_name(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"GIF8") {
        return Some("GIF");
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Some("TIFF");
    }
    if b.starts_with(b"BM") {
        return Some("BMP");
    }
    // ISO-BMFF: `ftyp` then the major brand.
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return match &b[8..12] {
            b"avif" | b"avis" => Some("AVIF"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"heii" | b"hevc" | b"hevx" => Some("HEIC"),
            b"mif1" | b"msf1" => Some("HEIF"),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0x1c];
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(brand);
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn the_three_formats_are_recognised_by_content() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Ok(ImageFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Ok(ImageFormat::Png));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Ok(ImageFormat::Webp));
    }

    #[test]
    fn refused_formats_are_named() {
        let name = |b: &[u8]| match sniff(b) {
            Err(IntakeError::UnsupportedFormat(name)) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(b"GIF89a"), Some("GIF"));
        assert_eq!(name(b"II*\0\x08\0"), Some("TIFF"));
        assert_eq!(name(b"MM\0*\0\0"), Some("TIFF"));
        assert_eq!(name(b"BM\x36\0"), Some("BMP"));
        assert_eq!(name(&ftyp(b"avif")), Some("AVIF"));
        assert_eq!(name(&ftyp(b"heic")), Some("HEIC"));
        assert_eq!(name(&ftyp(b"mif1")), Some("HEIF"));
        assert_eq!(name(&ftyp(b"isom")), None, "an MP4 is not called HEIF");
        assert_eq!(name(b"hello, world"), None);
        assert_eq!(name(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(name(b""), None);
    }
}
