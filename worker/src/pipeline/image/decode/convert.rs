//! Decoded pixels → 8-bit RGB plus alpha, and EXIF orientation, as
//! `facefix_ref.decode_image` does them.

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, Pixel, RgbImage};

/// 8-bit planes and what the source held (OpenCV's IMREAD_UNCHANGED view of it).
#[derive(Debug)]
pub(super) struct Planes {
    pub rgb: RgbImage,
    pub alpha: Option<GrayImage>,
    /// 1 gray, 2 gray + alpha, 3 colour, 4 colour + alpha.
    pub channels: u8,
    pub bit_depth: u8,
}

/// 16 → 8 bits as the reference's `_to_uint8`: `round(x / 257)` = `(x + 128) // 257`.
fn to8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// Splits any pixel layout into RGB (gray replicated, like `COLOR_GRAY2BGR`) and alpha.
fn split<P, F>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    to_u8: F,
    alpha: bool,
) -> (RgbImage, Option<GrayImage>)
where
    P: Pixel,
    F: Fn(P::Subpixel) -> u8,
{
    let (w, h) = img.dimensions();
    let n = P::CHANNEL_COUNT as usize;
    let gray = n < 3;
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    let mut a = Vec::with_capacity(if alpha { w as usize * h as usize } else { 0 });
    for px in img.as_raw().chunks_exact(n) {
        if gray {
            let g = to_u8(px[0]);
            rgb.extend_from_slice(&[g, g, g]);
        } else {
            rgb.extend(px[..3].iter().map(|&v| to_u8(v)));
        }
        if alpha {
            a.push(to_u8(px[n - 1]));
        }
    }
    let rgb = RgbImage::from_raw(w, h, rgb).unwrap_or_else(|| RgbImage::new(w, h));
    let a = alpha.then(|| GrayImage::from_raw(w, h, a).unwrap_or_else(|| GrayImage::new(w, h)));
    (rgb, a)
}

/// Gray replicated into RGB (`COLOR_GRAY2BGR`).
pub(super) fn gray_to_rgb(gray: &GrayImage) -> RgbImage {
    split(gray, |v| v, false).0
}

/// Converts a decoded image; `None` for sample types the three formats never produce.
pub(super) fn to_planes(img: &DynamicImage) -> Option<Planes> {
    let id = |v: u8| v;
    let ((rgb, alpha), channels, bit_depth) = match img {
        DynamicImage::ImageLuma8(i) => (split(i, id, false), 1, 8),
        DynamicImage::ImageLumaA8(i) => (split(i, id, true), 2, 8),
        DynamicImage::ImageRgb8(i) => (split(i, id, false), 3, 8),
        DynamicImage::ImageRgba8(i) => (split(i, id, true), 4, 8),
        DynamicImage::ImageLuma16(i) => (split(i, to8, false), 1, 16),
        DynamicImage::ImageLumaA16(i) => (split(i, to8, true), 2, 16),
        DynamicImage::ImageRgb16(i) => (split(i, to8, false), 3, 16),
        DynamicImage::ImageRgba16(i) => (split(i, to8, true), 4, 16),
        _ => return None,
    };
    Some(Planes {
        rgb,
        alpha,
        channels,
        bit_depth,
    })
}

/// Turns stored pixels upright for EXIF orientation `o` (1 as is, 2 mirror left-right,
/// 3 rotate 180°, 4 mirror top-bottom, 5 transpose, 6 rotate 90° clockwise,
/// 7 transverse, 8 rotate 90° counter-clockwise), the reference's `apply_orientation`.
pub(super) fn orient<P: Pixel>(
    img: ImageBuffer<P, Vec<P::Subpixel>>,
    o: u8,
) -> ImageBuffer<P, Vec<P::Subpixel>> {
    let (w, h) = img.dimensions();
    let swap = matches!(o, 5..=8);
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    // Source pixel of output (x, y).
    let src = |x: u32, y: u32| -> (u32, u32) {
        match o {
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (y, h - 1 - x),
            7 => (w - 1 - y, h - 1 - x),
            8 => (w - 1 - y, x),
            _ => (x, y),
        }
    };
    if o <= 1 || o > 8 {
        return img;
    }
    ImageBuffer::from_fn(ow, oh, |x, y| {
        let (sx, sy) = src(x, y);
        *img.get_pixel(sx, sy)
    })
}

/// Orientation for the alpha plane too (a `GrayImage` is an `ImageBuffer<Luma<u8>>`).
pub(super) fn orient_gray(img: GrayImage, o: u8) -> GrayImage {
    orient::<Luma<u8>>(img, o)
}
