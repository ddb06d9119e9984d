//! Format sniffing and header dimensions, read from the bytes without a decoder (and
//! without allocating), so decompression bombs are refused before any pixel buffer
//! exists.

use super::DecodeError;
use facefix_shared::job::ImageFormat;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The format from the magic bytes; `Err` names what it is when we recognise it.
pub(super) fn sniff(b: &[u8]) -> Result<ImageFormat, DecodeError> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if b.starts_with(PNG_SIGNATURE) {
        return Ok(ImageFormat::Png);
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(ImageFormat::Webp);
    }
    let what = if b.starts_with(b"GIF8") {
        "GIF"
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        "TIFF"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        // ISO-BMFF brands: avif/avis are AVIF, heic/heix/mif1/... HEIF.
        if &b[8..12] == b"avif" || &b[8..12] == b"avis" {
            "AVIF"
        } else {
            "HEIF/HEIC"
        }
    } else if b.starts_with(b"BM") {
        "BMP"
    } else {
        "unrecognised data"
    };
    Err(DecodeError::UnsupportedFormat(what.to_owned()))
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
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

/// One JPEG marker segment before the scan: marker byte and payload (after the length).
pub(super) struct Segment<'a> {
    pub marker: u8,
    pub payload: &'a [u8],
}

/// Walks the JPEG marker segments from SOI up to (not including) SOS. Returns the
/// segments and the offset of the SOS marker, or `None` if the stream ends first or is
/// malformed.
pub(super) fn jpeg_segments(b: &[u8]) -> Option<(Vec<Segment<'_>>, usize)> {
    let mut segs = Vec::new();
    let mut p = 2;
    loop {
        if *b.get(p)? != 0xFF {
            return None;
        }
        let marker = *b.get(p + 1)?;
        match marker {
            0xFF => p += 1, // fill byte
            0xD8 | 0x01 | 0xD0..=0xD7 => p += 2,
            0xDA => return Some((segs, p)),
            0xD9 => return None,
            _ => {
                let len = be16(b, p + 2)? as usize;
                if len < 2 {
                    return None;
                }
                let payload = b.get(p + 4..p + 2 + len)?;
                segs.push(Segment { marker, payload });
                p += 2 + len;
            }
        }
    }
}

/// SOF markers (baseline, extended, progressive, lossless, arithmetic): all but DHT
/// (C4), JPG (C8) and DAC (CC).
fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC)
}

fn corrupt(why: &str) -> DecodeError {
    DecodeError::CorruptImage(why.to_owned())
}

/// `(width, height)` from the header of an image already sniffed as `format`.
pub(super) fn dimensions(b: &[u8], format: ImageFormat) -> Result<(u32, u32), DecodeError> {
    let dims = match format {
        ImageFormat::Png => {
            // IHDR must be the first chunk: length 13, then width and height.
            if b.get(12..16) != Some(b"IHDR") {
                return Err(corrupt("PNG without IHDR"));
            }
            be32(b, 16).zip(be32(b, 20))
        }
        ImageFormat::Jpeg => {
            let (segs, _) = jpeg_segments(b)
                .ok_or_else(|| corrupt("JPEG headers are truncated or malformed"))?;
            let sof = segs
                .iter()
                .find(|s| is_sof(s.marker))
                .ok_or_else(|| corrupt("JPEG without a frame header"))?;
            // SOF payload: precision, height (2), width (2), components.
            be16(sof.payload, 3).zip(be16(sof.payload, 1))
        }
        ImageFormat::Webp => webp_dimensions(b),
    };
    match dims {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        Some(_) => Err(corrupt("zero image dimension")),
        None => Err(corrupt("truncated image header")),
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

/// A complete JPEG has an EOI marker after its first scan. Entropy-coded data never
/// contains an unstuffed `FF D9`, so its absence means the file was cut short (decoders
/// such as zune-jpeg and libjpeg "succeed" on such files and fill the rest with gray).
pub(super) fn jpeg_is_complete(b: &[u8]) -> bool {
    let Some((_, sos)) = jpeg_segments(b) else {
        return false;
    };
    b[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}
