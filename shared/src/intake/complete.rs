//! A cheap look at the end of an upload: does it end the way a complete file of its
//! format does? Catches uploads cut off in transit before they are stored; the worker's
//! decode (with [`super::jpeg_is_complete`] for JPEG) is the final judge.

use crate::job::ImageFormat;

/// How far from the end a trailer is looked for: some cameras append data after a
/// JPEG's end-of-image marker.
const TAIL: usize = 4096;

/// Whether `bytes`, already sniffed as `format`, ends like a complete file.
pub fn looks_complete(format: ImageFormat, bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(TAIL)..];
    match format {
        // The EOI marker.
        ImageFormat::Jpeg => tail.windows(2).any(|w| w == [0xFF, 0xD9]),
        // The IEND chunk (type + CRC are the last 8 bytes of a PNG).
        ImageFormat::Png => tail.windows(4).any(|w| w == b"IEND"),
        // The RIFF header states the file size.
        ImageFormat::Webp => {
            let Some(size) = bytes.get(4..8).and_then(|s| s.try_into().ok()) else {
                return false;
            };
            let declared = u32::from_le_bytes(size) as usize;
            bytes.len() >= declared.saturating_add(8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_files_do_not_look_complete() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9];
        assert!(looks_complete(ImageFormat::Jpeg, &jpeg));
        jpeg.extend_from_slice(&[0; 100]);
        assert!(looks_complete(ImageFormat::Jpeg, &jpeg), "trailing bytes");
        assert!(!looks_complete(ImageFormat::Jpeg, &jpeg[..6]));
        let png = b"\x89PNG\r\n\x1a\n...\0\0\0\0IEND\xAE\x42\x60\x82";
        assert!(looks_complete(ImageFormat::Png, png));
        assert!(!looks_complete(ImageFormat::Png, &png[..16]));
        let webp = b"RIFF\x08\0\0\0WEBPVP8L";
        assert!(looks_complete(ImageFormat::Webp, webp));
        assert!(!looks_complete(ImageFormat::Webp, &webp[..12]));
    }
}
