//! Cutting an image into overlapping tiles for an enlarging network, and where each
//! tile's output goes.
//!
//! Every window has the same size (edge windows are shifted inward rather than shrunk),
//! so the tiles of an image batch together on the session threads. Each window is its
//! core (the part it contributes) plus up to `overlap` pixels of real neighbours on each
//! side: the network sees context across the seam, and only the core of its output is
//! kept, which is what makes the seams invisible.

/// A rectangle in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// One tile: the window fed to the network and the core of it that is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub window: Rect,
    pub core: Rect,
}

/// How an image is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Side of a tile's core, pixels (≥ 8).
    pub tile: u32,
    /// Context on each side of the core, pixels.
    pub overlap: u32,
}

/// The tiles covering a `width`×`height` image: cores on a `tile` grid, windows of one
/// size (`tile + 2·overlap`, or the image's side where it is smaller) that contain them.
pub fn plan(width: u32, height: u32, tiling: Tiling) -> Vec<Tile> {
    let tile = tiling.tile.max(8);
    let span = tile.saturating_add(tiling.overlap.saturating_mul(2));
    let (ww, wh) = (span.min(width), span.min(height));
    let mut tiles = Vec::new();
    for cy in (0..height).step_by(tile as usize) {
        for cx in (0..width).step_by(tile as usize) {
            let core = Rect {
                x: cx,
                y: cy,
                w: tile.min(width - cx),
                h: tile.min(height - cy),
            };
            let window = Rect {
                x: cx.saturating_sub(tiling.overlap).min(width - ww),
                y: cy.saturating_sub(tiling.overlap).min(height - wh),
                w: ww,
                h: wh,
            };
            tiles.push(Tile { window, core });
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(outer: Rect, inner: Rect) -> bool {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.x + inner.w <= outer.x + outer.w
            && inner.y + inner.h <= outer.y + outer.h
    }

    #[test]
    fn cores_cover_the_image_once_and_windows_hold_them() {
        for (w, h, tile, overlap) in [
            (100, 37, 16, 4),
            (16, 16, 16, 8),
            (5, 90, 32, 10),
            (64, 64, 8, 0),
        ] {
            let tiles = plan(w, h, Tiling { tile, overlap });
            let mut hits = vec![0u8; (w * h) as usize];
            let first = tiles[0].window;
            for t in &tiles {
                assert!(contains(t.window, t.core), "{t:?}");
                assert_eq!(
                    (t.window.w, t.window.h),
                    (first.w, first.h),
                    "one window size"
                );
                assert!(t.window.x + t.window.w <= w && t.window.y + t.window.h <= h);
                for y in t.core.y..t.core.y + t.core.h {
                    for x in t.core.x..t.core.x + t.core.w {
                        hits[(y * w + x) as usize] += 1;
                    }
                }
            }
            assert!(hits.iter().all(|&n| n == 1), "{w}x{h} tile {tile}");
        }
    }

    #[test]
    fn inner_windows_carry_the_overlap_on_every_side() {
        let tiles = plan(
            100,
            100,
            Tiling {
                tile: 20,
                overlap: 6,
            },
        );
        let inner = tiles
            .iter()
            .find(|t| t.core.x == 40 && t.core.y == 40)
            .expect("an inner tile");
        assert_eq!(
            inner.window,
            Rect {
                x: 34,
                y: 34,
                w: 32,
                h: 32
            }
        );
        // A small image is one window, the whole image.
        let small = plan(
            10,
            12,
            Tiling {
                tile: 64,
                overlap: 8,
            },
        );
        let whole = Rect {
            x: 0,
            y: 0,
            w: 10,
            h: 12,
        };
        assert_eq!(
            small.iter().map(|t| t.window).collect::<Vec<_>>(),
            vec![whole]
        );
    }
}
