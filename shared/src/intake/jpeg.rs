//! The JPEG marker segments before the first scan: where the frame header (dimensions)
//! and the EXIF block are, and whether the file goes on to its end-of-image marker.

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

/// One marker segment before the scan: the marker byte and its payload (after the length).
pub struct JpegSegment<'a> {
    pub marker: u8,
    pub payload: &'a [u8],
}

/// Walks the marker segments from SOI up to (not including) SOS. Returns the segments
/// and the offset of the SOS marker, or `None` if the stream ends first or is malformed.
pub fn jpeg_segments(b: &[u8]) -> Option<(Vec<JpegSegment<'_>>, usize)> {
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
                let len = be16(b, p + 2)?;
                if len < 2 {
                    return None;
                }
                let payload = b.get(p + 4..p + 2 + len)?;
                segs.push(JpegSegment { marker, payload });
                p += 2 + len;
            }
        }
    }
}

/// SOF markers (baseline, extended, progressive, lossless, arithmetic): all of C0..CF
/// but DHT (C4), JPG (C8) and DAC (CC).
pub(super) fn is_frame_header(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// `(width, height)` from the first frame header.
pub(super) fn frame_dimensions(b: &[u8]) -> Result<Option<(u32, u32)>, &'static str> {
    let (segs, _) = jpeg_segments(b).ok_or("JPEG headers are truncated or malformed")?;
    let sof = segs
        .iter()
        .find(|s| is_frame_header(s.marker))
        .ok_or("JPEG without a frame header")?;
    // SOF payload: precision, height (2), width (2), components.
    let (w, h) = (be16(sof.payload, 3), be16(sof.payload, 1));
    Ok(w.zip(h).map(|(w, h)| (w as u32, h as u32)))
}

/// A complete JPEG has an EOI marker after its first scan. Entropy-coded data never
/// contains an unstuffed `FF D9`, so its absence means the file was cut short (decoders
/// such as libjpeg "succeed" on such files and fill the rest with gray).
pub fn jpeg_is_complete(b: &[u8]) -> bool {
    let Some((_, sos)) = jpeg_segments(b) else {
        return false;
    };
    b[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// SOI, an APP1 "Exif" segment, SOF0 of `w`×`h`, SOS, two data bytes, and EOI when
    /// `complete`.
    pub fn jpeg(w: u16, h: u16, complete: bool) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        b.extend_from_slice(&[0xFF, 0xE1, 0, 8]);
        b.extend_from_slice(b"Exif\0\0");
        b.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[1, 1, 0x11, 0]);
        b.extend_from_slice(&[0xFF, 0xDA, 0, 2, 0x12, 0x34]);
        if complete {
            b.extend_from_slice(&[0xFF, 0xD9]);
        }
        b
    }

    #[test]
    fn segments_up_to_the_scan() {
        let b = jpeg(640, 480, true);
        let (segs, sos) = jpeg_segments(&b).expect("segments");
        let markers: Vec<u8> = segs.iter().map(|s| s.marker).collect();
        assert_eq!(markers, vec![0xE1, 0xC0]);
        assert_eq!(segs[0].payload, b"Exif\0\0");
        assert_eq!(&b[sos..sos + 2], &[0xFF, 0xDA]);
        assert_eq!(frame_dimensions(&b), Ok(Some((640, 480))));
    }

    #[test]
    fn a_file_without_its_end_marker_is_incomplete() {
        assert!(jpeg_is_complete(&jpeg(8, 8, true)));
        assert!(!jpeg_is_complete(&jpeg(8, 8, false)));
        let header_only = &jpeg(8, 8, true)[..12];
        assert!(jpeg_segments(header_only).is_none());
        assert!(!jpeg_is_complete(header_only));
    }

    #[test]
    fn tables_are_not_frame_headers() {
        assert!(is_frame_header(0xC0) && is_frame_header(0xC2) && is_frame_header(0xCF));
        assert!(!is_frame_header(0xC4) && !is_frame_header(0xC8) && !is_frame_header(0xCC));
    }
}
