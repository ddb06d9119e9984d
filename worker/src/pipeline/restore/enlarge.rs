//! Background upsampling: a whole image enlarged by an enlarging restorer (Real-ESRGAN),
//! tile by tile, so the network's memory is bounded by the tile, not the image.

use super::crops::blocking;
use super::tiles::{self, Tile, Tiling};
use super::{Restorer, tensor};
use crate::pipeline::error::PipelineError;
use crate::pipeline::image::cv;
use image::{RgbImage, imageops};
use std::sync::Arc;

impl Restorer {
    /// Enlarges `img` by the model's scale in tiles, then resizes to `upscale`× (area
    /// averaging down, Lanczos up). At most `max_batch` tiles are in flight at once: the
    /// only image-sized buffer is the 8-bit output.
    pub async fn enlarge(
        &self,
        img: Arc<RgbImage>,
        tiling: Tiling,
        upscale: u32,
    ) -> Result<RgbImage, PipelineError> {
        let spec = self.spec();
        let Some(k) = spec.scale else {
            return Err(PipelineError::Internal(format!(
                "{} does not enlarge images",
                spec.name
            )));
        };
        let norm = spec.normalisation;
        let (w, h) = img.dimensions();
        let plan = tiles::plan(w, h, tiling);
        let mut canvas = RgbImage::new(w * k, h * k);
        for group in plan.chunks(spec.max_batch.max(1)) {
            let (group, source) = (group.to_vec(), Arc::clone(&img));
            let (input, group) = blocking(move || {
                let windows: Vec<RgbImage> = group
                    .iter()
                    .map(|t| {
                        let r = t.window;
                        imageops::crop_imm(source.as_ref(), r.x, r.y, r.w, r.h).to_image()
                    })
                    .collect();
                (tensor::preprocess(&windows, norm), group)
            })
            .await?;
            let output = self.run(input, None).await?;
            canvas = blocking(move || {
                for (tile, out) in group.iter().zip(tensor::postprocess(&output, norm)) {
                    place(&mut canvas, &out, tile, k);
                }
                canvas
            })
            .await?;
        }
        let (out_w, out_h) = (w * upscale, h * upscale);
        blocking(move || match upscale.cmp(&k) {
            std::cmp::Ordering::Equal => canvas,
            std::cmp::Ordering::Less => cv::resize_area(&canvas, out_w, out_h),
            std::cmp::Ordering::Greater => cv::resize_lanczos4(&canvas, out_w, out_h),
        })
        .await
    }
}

/// Copies the core of a tile's enlarged output into the canvas.
fn place(canvas: &mut RgbImage, out: &RgbImage, tile: &Tile, k: u32) {
    let (core, window) = (tile.core, tile.window);
    let kept = imageops::crop_imm(
        out,
        (core.x - window.x) * k,
        (core.y - window.y) * k,
        core.w * k,
        core.h * k,
    );
    imageops::replace(canvas, &*kept, i64::from(core.x * k), i64::from(core.y * k));
}
