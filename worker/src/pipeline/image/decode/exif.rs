//! EXIF orientation, read exactly as `facefix_ref.read_exif_orientation` does: the first
//! EXIF block only (JPEG APP1 before the scan, PNG `eXIf` before IEND, WebP `EXIF`
//! chunk), IFD0 tag 0x0112 of type SHORT (or LONG, seen in the wild); anything missing,
//! malformed or outside 1..=8 means 1.

use facefix_shared::intake::jpeg_segments;
use facefix_shared::job::ImageFormat;

/// Orientation 1..=8 of the image's EXIF block, 1 when there is none.
pub(super) fn orientation(b: &[u8], format: ImageFormat) -> u8 {
    let tiff = match format {
        ImageFormat::Jpeg => jpeg_exif(b),
        ImageFormat::Png => png_exif(b),
        ImageFormat::Webp => webp_exif(b),
    };
    tiff.and_then(tiff_orientation).unwrap_or(1)
}

fn strip_exif_prefix(p: &[u8]) -> &[u8] {
    p.strip_prefix(b"Exif\0\0").unwrap_or(p)
}

fn jpeg_exif(b: &[u8]) -> Option<&[u8]> {
    // The reference walks segments up to SOS even if the file ends later; a truncated
    // header yields "no orientation", as there.
    let segs = match jpeg_segments(b) {
        Some((segs, _)) => segs,
        None => return None,
    };
    segs.into_iter()
        .find(|s| s.marker == 0xE1 && s.payload.starts_with(b"Exif\0\0"))
        .map(|s| &s.payload[6..])
}

fn png_exif(b: &[u8]) -> Option<&[u8]> {
    let mut p = 8;
    while p + 8 <= b.len() {
        let n = u32::from_be_bytes(b[p..p + 4].try_into().ok()?) as usize;
        let typ = &b[p + 4..p + 8];
        if typ == b"eXIf" {
            let end = (p + 8).checked_add(n)?.min(b.len());
            return Some(strip_exif_prefix(&b[p + 8..end]));
        }
        if typ == b"IEND" {
            return None;
        }
        p = p.checked_add(12)?.checked_add(n)?;
    }
    None
}

fn webp_exif(b: &[u8]) -> Option<&[u8]> {
    let mut p = 12;
    while p + 8 <= b.len() {
        let n = u32::from_le_bytes(b[p + 4..p + 8].try_into().ok()?) as usize;
        if &b[p..p + 4] == b"EXIF" {
            let end = (p + 8).checked_add(n)?.min(b.len());
            return Some(strip_exif_prefix(&b[p + 8..end]));
        }
        p = p.checked_add(8)?.checked_add(n)?.checked_add(n & 1)?;
    }
    None
}

/// Tag 0x0112 of IFD0 in a TIFF block ("II" or "MM", magic 42).
fn tiff_orientation(t: &[u8]) -> Option<u8> {
    let le = match t.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u32> {
        let v: [u8; 2] = t.get(at..at + 2)?.try_into().ok()?;
        Some(u32::from(if le {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        }))
    };
    let u32_at = |at: usize| -> Option<u32> {
        let v: [u8; 4] = t.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    if t.len() < 8 || u16_at(2)? != 42 {
        return None;
    }
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    for k in 0..count {
        let e = ifd + 2 + 12 * k;
        if e + 12 > t.len() {
            break;
        }
        if u16_at(e)? != 0x0112 {
            continue;
        }
        let (typ, n) = (u16_at(e + 2)?, u32_at(e + 4)?);
        let value = match typ {
            3 if n >= 1 => u16_at(e + 8)?,
            4 if n >= 1 => u32_at(e + 8)?,
            _ => return None,
        };
        return (1..=8).contains(&value).then_some(value as u8);
    }
    None
}
