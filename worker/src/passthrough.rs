//! A processor with no models: decodes (with the upload limits), applies the EXIF
//! orientation, scales by `upscale` and re-encodes without metadata. It runs the whole job
//! system where no face models are installed, and in its tests.

use crate::processor::{ImageProcessor, ModelInfo, ProcessError, Processed, StageObserver};
use async_trait::async_trait;
use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageFormat, JobParams, Stage, StageTimings};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

/// The name under which it is listed.
pub const PASSTHROUGH_MODEL: &str = "passthrough";

/// See the module docs.
#[derive(Debug, Clone)]
pub struct PassThrough {
    /// Pixel limit of the decoded input (the API checks the header; this guards the decoder).
    pub max_pixels: u64,
}

fn elapsed_ms(start: Instant) -> Option<f64> {
    Some(start.elapsed().as_secs_f64() * 1000.0)
}

fn to_image_format(format: ImageFormat) -> image::ImageFormat {
    match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Webp => image::ImageFormat::WebP,
    }
}

fn from_image_format(format: image::ImageFormat) -> Option<ImageFormat> {
    match format {
        image::ImageFormat::Png => Some(ImageFormat::Png),
        image::ImageFormat::Jpeg => Some(ImageFormat::Jpeg),
        image::ImageFormat::WebP => Some(ImageFormat::Webp),
        _ => None,
    }
}

fn run(
    input: &[u8],
    params: &JobParams,
    max_pixels: u64,
    observer: &dyn StageObserver,
) -> Result<Processed, ProcessError> {
    use image::ImageDecoder;
    let mut timings = StageTimings::default();
    observer.entered(Stage::Decode);
    let started = Instant::now();
    let reader = image::ImageReader::new(Cursor::new(input))
        .with_guessed_format()
        .map_err(|e| ProcessError::permanent(ErrorCode::CorruptImage, e.to_string()))?;
    let input_format = reader.format().and_then(from_image_format).ok_or_else(|| {
        ProcessError::permanent(
            ErrorCode::UnsupportedFormat,
            "not a JPEG, PNG or WebP image",
        )
    })?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ProcessError::permanent(ErrorCode::CorruptImage, e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ProcessError::permanent(
            ErrorCode::TooManyPixels,
            format!("{width}×{height} is over the pixel limit"),
        ));
    }
    decoder
        .set_limits(limits)
        .map_err(|e| ProcessError::permanent(ErrorCode::TooManyPixels, e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| ProcessError::permanent(ErrorCode::CorruptImage, e.to_string()))?;
    decoded.apply_orientation(orientation);
    let rgb = decoded.to_rgb8();
    timings.decode = elapsed_ms(started);

    observer.entered(Stage::Paste);
    let started = Instant::now();
    let upscale = u32::from(params.upscale.max(1));
    let (out_w, out_h) = (rgb.width() * upscale, rgb.height() * upscale);
    let output = if upscale == 1 {
        rgb
    } else {
        image::imageops::resize(&rgb, out_w, out_h, image::imageops::FilterType::Lanczos3)
    };
    timings.paste = elapsed_ms(started);

    observer.entered(Stage::Encode);
    let started = Instant::now();
    let format = params.format.unwrap_or(input_format);
    let mut encoded = Cursor::new(Vec::new());
    output
        .write_to(&mut encoded, to_image_format(format))
        .map_err(|e| ProcessError::Transient(format!("encoding failed: {e}")))?;
    timings.encode = elapsed_ms(started);
    Ok(Processed {
        bytes: Bytes::from(encoded.into_inner()),
        format,
        width: out_w,
        height: out_h,
        faces_found: 0,
        faces_restored: 0,
        timings,
        notes: vec!["pass-through processor: no face restoration model is installed".to_string()],
    })
}

#[async_trait]
impl ImageProcessor for PassThrough {
    async fn process(
        &self,
        input: Bytes,
        params: &JobParams,
        observer: Arc<dyn StageObserver>,
    ) -> Result<Processed, ProcessError> {
        let params = params.clone();
        let max_pixels = self.max_pixels;
        tokio::task::spawn_blocking(move || run(&input, &params, max_pixels, observer.as_ref()))
            .await
            .map_err(|e| ProcessError::Transient(format!("processing task failed: {e}")))?
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo {
            name: PASSTHROUGH_MODEL.to_string(),
            description:
                "No restoration: orientation, upscale (Lanczos) and metadata removal only."
                    .to_string(),
            licence: "Apache-2.0".to_string(),
            fidelity: false,
            default: true,
        }]
    }
}
