//! A large JPEG encoded on several cores: the image is cut into bands of whole MCU rows
//! (16 px at 4:2:0), each band is encoded on its own thread as a JPEG whose restart
//! interval is one band, and the bands' entropy-coded data are joined with restart
//! markers under one header. A restart marker resets the DC predictors and byte-aligns
//! the data, so each band is independent — which is exactly what a single encoder writes
//! with the same restart interval: the joined file is byte for byte libjpeg-turbo's own
//! single-pass output with `RESTARTROWS` = band rows / 16 (`tests/cv_encode.rs`), and it
//! decodes to the same pixels as the reference's file without markers (blocks, tables
//! and quantisation are the same; only the markers between bands are added).
//!
//! libjpeg-turbo encodes on one core; on the 33 MP photo's ×2 output that was ~0.42 s of
//! a ~1.9 s job, with the other core idle.

use super::jpeg::encode_with_restarts;

/// Rows (and columns) of one MCU at 4:2:0.
const MCU_ROWS: u32 = 16;
/// The DRI marker holds the restart interval in 16 bits (MCUs): a wide image's band is
/// then several intervals, whose markers are renumbered when the bands are joined.
const MAX_INTERVAL_MCUS: u32 = 65_535;
/// Below this many pixels one encoder is faster than starting threads and joining.
pub const MIN_PARALLEL_PIXELS: u64 = 4_000_000;

/// Encodes in `parts` bands (1 = the plain single-pass encode, without restart markers).
pub fn encode_in_parts(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    parts: u32,
) -> Result<Vec<u8>, String> {
    encode_in_parts_capped(rgb, width, height, quality, parts, MAX_INTERVAL_MCUS)
}

/// [`encode_in_parts`] with the restart interval capped at `max_interval_mcus` (tests
/// use a small cap to exercise several intervals per band on small images).
fn encode_in_parts_capped(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    parts: u32,
    max_interval_mcus: u32,
) -> Result<Vec<u8>, String> {
    let mcu_rows = height.div_ceil(MCU_ROWS);
    let parts = parts.clamp(1, mcu_rows.max(1));
    if parts <= 1 {
        return super::jpeg::encode_rgb(rgb, width, height, quality);
    }
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(format!("{} bytes is not {width}x{height} RGB", rgb.len()));
    }
    let (interval_rows, band_mcu_rows) =
        band_layout(mcu_rows.div_ceil(parts), width, max_interval_mcus);
    let band_rows = band_mcu_rows * MCU_ROWS;
    let row_bytes = width as usize * 3;
    let bands: Vec<Result<Vec<u8>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = rgb
            .chunks(band_rows as usize * row_bytes)
            .map(|band| {
                let rows = (band.len() / row_bytes) as u32;
                s.spawn(move || encode_with_restarts(band, width, rows, quality, interval_rows))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a JPEG band encoder panicked".into()))
            })
            .collect()
    });
    let bands = bands.into_iter().collect::<Result<Vec<_>, _>>()?;
    join(&bands, height)
}

/// MCU rows per restart interval and per band, for bands of about `target_rows` MCU rows:
/// an interval is at most `max_interval_mcus` MCUs, and a band is whole intervals.
fn band_layout(target_rows: u32, width: u32, max_interval_mcus: u32) -> (u32, u32) {
    let mcus_per_row = width.div_ceil(MCU_ROWS).max(1);
    let interval_rows = (max_interval_mcus / mcus_per_row).clamp(1, target_rows.max(1));
    let band_rows = target_rows.div_ceil(interval_rows) * interval_rows;
    (interval_rows, band_rows)
}

/// One file from band files: the first band's header with the full height, then each
/// band's entropy-coded data with its restart markers renumbered to run on from the
/// previous band's (RST0…RST7, modulo 8), a marker between bands, then EOI.
fn join(bands: &[Vec<u8>], height: u32) -> Result<Vec<u8>, String> {
    let first = bands.first().ok_or("no bands")?;
    let (header_end, sof_height_at) = scan_header(first)?;
    let mut out = Vec::with_capacity(bands.iter().map(Vec::len).sum());
    out.extend_from_slice(&first[..header_end]);
    let h = u16::try_from(height).map_err(|_| "height over 65535")?;
    out[sof_height_at..sof_height_at + 2].copy_from_slice(&h.to_be_bytes());
    // Intervals written so far: the next marker is RST(intervals - 1 mod 8).
    let mut intervals = 0usize;
    for (i, band) in bands.iter().enumerate() {
        let (start, _) = scan_header(band)?;
        let data = entropy_data(band, start)?;
        if i > 0 {
            out.extend_from_slice(&[0xFF, rst(intervals - 1)]);
        }
        let from = out.len();
        out.extend_from_slice(data);
        intervals += 1;
        // Byte stuffing makes 0xFF in entropy-coded data a marker only when followed by
        // D0–D7 (RSTn); 0xFF 0x00 is a data byte.
        let mut k = from;
        while k + 1 < out.len() {
            if out[k] == 0xFF && (0xD0..=0xD7).contains(&out[k + 1]) {
                out[k + 1] = rst(intervals - 1);
                intervals += 1;
                k += 2;
            } else {
                k += 1;
            }
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Ok(out)
}

/// The restart marker after interval `n` (0-based).
fn rst(n: usize) -> u8 {
    0xD0 + (n % 8) as u8
}

/// Where a baseline JPEG's entropy-coded data starts (after the SOS segment) and where
/// its SOF0 height field is.
fn scan_header(jpeg: &[u8]) -> Result<(usize, usize), String> {
    if jpeg.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("a JPEG band does not start with SOI".into());
    }
    let mut at = 2;
    let mut sof_height = None;
    while at + 4 <= jpeg.len() {
        if jpeg[at] != 0xFF {
            return Err(format!("JPEG band: no marker at byte {at}"));
        }
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xC0 {
            sof_height = Some(at + 5);
        }
        at += 2 + len;
        if marker == 0xDA {
            let sof = sof_height.ok_or("JPEG band without SOF0")?;
            return Ok((at, sof));
        }
    }
    Err("JPEG band without SOS".into())
}

/// The entropy-coded data from `start` to the final EOI.
fn entropy_data(jpeg: &[u8], start: usize) -> Result<&[u8], String> {
    let end = jpeg.len().checked_sub(2).filter(|&e| e >= start);
    match end {
        Some(e) if jpeg[e..] == [0xFF, 0xD9] => Ok(&jpeg[start..e]),
        _ => Err("JPEG band does not end with EOI".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Vec<u8> {
        (0..w * h * 3)
            .map(|i| ((i % 251) ^ (i / 777 % 256)) as u8)
            .collect()
    }

    #[test]
    fn joined_bands_are_the_single_encoders_bytes_with_the_same_restart_interval() {
        let (w, h) = (200, 150); // 10 MCU rows, the last one partial
        let rgb = gradient(w, h);
        for parts in [2, 3, 4, 10] {
            let band_mcu_rows = h.div_ceil(MCU_ROWS).div_ceil(parts);
            let joined = encode_in_parts(&rgb, w, h, 95, parts).expect("parts");
            let single = encode_with_restarts(&rgb, w, h, 95, band_mcu_rows).expect("single");
            assert!(joined == single, "{parts} parts: bytes differ");
        }
    }

    #[test]
    fn wide_bands_of_several_intervals_are_renumbered_like_the_single_encoders() {
        // 13 MCUs a row; a 30-MCU cap gives 2-row intervals, so bands hold several
        // intervals and markers run past RST7 (the real cap, 65 535 MCUs, is hit by a
        // 15 360 px wide output).
        let (w, h) = (200, 400); // 25 MCU rows
        let rgb = gradient(w, h);
        for parts in [2, 3] {
            let (interval_rows, _) = band_layout(25u32.div_ceil(parts), w, 30);
            assert_eq!(interval_rows, 2);
            let joined = encode_in_parts_capped(&rgb, w, h, 95, parts, 30).expect("parts");
            let single = encode_with_restarts(&rgb, w, h, 95, interval_rows).expect("single");
            assert!(joined == single, "{parts} parts: bytes differ");
        }
    }

    #[test]
    fn the_layout_keeps_intervals_under_the_marker_limit() {
        // The 33 MP photo's x2 output: 960 MCUs a row, 540 MCU rows, two bands.
        let (interval, band) = band_layout(270, 15_360, MAX_INTERVAL_MCUS);
        assert!(interval * 960 <= MAX_INTERVAL_MCUS);
        assert_eq!(band % interval, 0);
        assert!(band >= 270);
    }

    #[test]
    fn one_part_is_the_plain_encode() {
        let rgb = gradient(40, 40);
        assert_eq!(
            encode_in_parts(&rgb, 40, 40, 90, 1).expect("one"),
            super::super::jpeg::encode_rgb(&rgb, 40, 40, 90).expect("plain")
        );
    }

    #[test]
    fn a_band_that_is_not_a_jpeg_is_refused() {
        assert!(join(&[vec![0, 1, 2, 3]], 16).is_err());
        assert!(scan_header(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
    }
}
