//! `FacePipeline`: decode → detect → align → restore → paste back → encode, as the worker
//! and the offline CLI run it.
//!
//! The image stages run on blocking threads (`spawn_blocking`); the restorer runs on its
//! session threads and is awaited, so the async side never blocks. Per-stage wall times
//! are measured here and the observer hears each stage as it starts.

use super::detect::DetectorStats;
use super::engine::Engine;
use super::error::PipelineError;
use super::face::{Face, filter_faces};
use super::image::decode::SourceInfo;
use super::inference::model_args::ModelArgs;
use super::inference::runtime::RuntimeError;
use super::progress::StageObserver;
use super::request::{DEFAULT_QUALITY, Limits, Request};
use super::restore::Restorer;
use super::restored::{Restored, Timings};
use super::stages;
use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::{ImageFormat, Stage};
use facefix_shared::time::elapsed_ms;
use image::{GrayImage, RgbImage};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The face pipeline. Build it once ([`FacePipeline::load`]) and share it (`Arc`).
pub struct FacePipeline {
    engine: Arc<Engine>,
    limits: Limits,
}

/// Counts a job as upstream of the restore stage until dropped or released.
struct Upstream(Option<Arc<AtomicUsize>>);

impl Upstream {
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Some(Arc::clone(counter)))
    }

    fn release(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.release();
    }
}

/// The Lanczos background, computed on its own thread while detection and restoration
/// run: it depends on the input alone, and on a large photo it is most of the paste stage
/// (1.3 of 2.5 s on the 33 MP photo), so it uses the cores the detector and the restorer
/// leave idle instead of waiting for them.
struct PendingBackground(std::thread::JoinHandle<RgbImage>);

impl PendingBackground {
    fn start(rgb: Arc<RgbImage>, upscale: u32) -> Result<Self, PipelineError> {
        std::thread::Builder::new()
            .name("facefix-background".into())
            .spawn(move || stages::background(&rgb, upscale))
            .map(Self)
            .map_err(|e| {
                PipelineError::Internal(format!("cannot start the background thread: {e}"))
            })
    }

    fn wait(self) -> Result<RgbImage, PipelineError> {
        self.0
            .join()
            .map_err(|_| PipelineError::Internal("the background resize panicked".into()))
    }
}

/// Result of the first blocking stage.
struct Prepared {
    rgb: Arc<RgbImage>,
    /// The enlarged background, under way (`None` for aligned faces and when the
    /// background upsampler makes it).
    background: Option<PendingBackground>,
    alpha: Option<GrayImage>,
    format: ImageFormat,
    source: SourceInfo,
    faces: Vec<Face>,
    num_detected: usize,
    stats: Option<DetectorStats>,
    crops: Vec<RgbImage>,
    timings: Timings,
}

impl FacePipeline {
    /// Loads the models `args` names (slow: call from a blocking context, before serving).
    /// The decode limits default to the API's (40 MP, 12 000 px a side).
    pub fn load(args: &ModelArgs) -> Result<Self, RuntimeError> {
        let engine = Engine::load(args)?;
        Ok(Self::new(
            Arc::new(engine),
            Limits {
                decode: ImageLimits::default(),
                max_output_pixels: args.max_output_pixels,
                quality: DEFAULT_QUALITY,
            },
        ))
    }

    pub fn new(engine: Arc<Engine>, limits: Limits) -> Self {
        Self { engine, limits }
    }

    /// Replaces the decode limits (the worker passes the API's).
    pub fn with_decode_limits(mut self, decode: ImageLimits) -> Self {
        self.limits.decode = decode;
        self
    }

    /// Replaces the JPEG / WebP quality.
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.limits.quality = quality;
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Processes one image.
    pub async fn run(
        &self,
        input: Bytes,
        req: &Request,
        observer: Arc<dyn StageObserver>,
    ) -> Result<Restored, PipelineError> {
        let started = Instant::now();
        if !(1..=8).contains(&req.upscale) {
            return Err(PipelineError::input(
                ErrorCode::InvalidOption,
                format!("upscale {} is out of range 1-8", req.upscale),
            ));
        }
        let restorer = self.engine.restorer(req.restorer.as_deref())?.clone();
        let size = restorer.spec().size;
        let bg_upsampler = match (&req.bg_upsampler, req.aligned) {
            (Some(name), false) => Some(self.engine.bg_upsampler(name)?.clone()),
            _ => None,
        };
        let mut upstream = Upstream::enter(&self.engine.upstream);

        let (engine, limits, r, obs, face_restorer) = (
            Arc::clone(&self.engine),
            self.limits.clone(),
            req.clone(),
            Arc::clone(&observer),
            restorer.clone(),
        );
        let prepared =
            blocking(move || prepare(&engine, &limits, &input, &r, &face_restorer, obs.as_ref()))
                .await?;
        let (input_width, input_height) = prepared.rgb.dimensions();
        let Prepared {
            rgb,
            background: lanczos,
            alpha,
            format,
            source,
            mut faces,
            num_detected,
            stats,
            crops,
            mut timings,
        } = prepared;

        observer.entered(Stage::Restore);
        let t = Instant::now();
        let restored = restorer.restore_crops(crops, req.fidelity).await;
        upstream.release();
        let restored = restored?;
        timings.restore = elapsed_ms(t);
        let background = match bg_upsampler {
            Some(upsampler) => {
                // Enlarging the background is the first half of pasting back.
                observer.entered(Stage::Paste);
                let t = Instant::now();
                let enlarged = upsampler
                    .enlarge(Arc::clone(&rgb), self.engine.tiling, req.upscale)
                    .await?;
                timings.paste = elapsed_ms(t);
                Some(enlarged)
            }
            None => None,
        };

        let (format_out, upscale, aligned, quality, obs) = (
            req.format.unwrap_or(format),
            req.upscale,
            req.aligned,
            self.limits.quality,
            Arc::clone(&observer),
        );
        let affines: Vec<_> = faces.iter().filter_map(|f| f.affine).collect();
        let finished = blocking(move || {
            if !aligned && background.is_none() {
                obs.entered(Stage::Paste);
            }
            let t = Instant::now();
            let (image, inverses) = if aligned {
                (
                    restored
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| RgbImage::new(size, size)),
                    Vec::new(),
                )
            } else if let Some(background) = background {
                stages::paste_onto(background, restored, &affines, upscale)
            } else if let Some(pending) = lanczos {
                stages::paste_onto(pending.wait()?, restored, &affines, upscale)
            } else {
                stages::paste(&rgb, restored, &affines, upscale)
            };
            let alpha = stages::output_alpha(alpha, format_out, image.dimensions());
            let paste_ms = elapsed_ms(t);
            obs.entered(Stage::Encode);
            let t = Instant::now();
            let bytes = stages::encode(&image, alpha.as_ref(), format_out, quality)?;
            Ok((
                bytes,
                image.width(),
                image.height(),
                inverses,
                paste_ms,
                elapsed_ms(t),
            ))
        })
        .await?;
        let (bytes, width, height, inverses, paste_ms, encode_ms) = finished;
        for (f, inv) in faces.iter_mut().zip(inverses) {
            f.inverse_affine = Some(inv);
        }
        timings.paste += paste_ms;
        timings.encode = encode_ms;
        timings.total = elapsed_ms(started);
        let num_restored = if req.aligned { 1 } else { faces.len() };
        Ok(Restored {
            bytes,
            format: format_out,
            width,
            height,
            input_width,
            input_height,
            source,
            restorer: restorer.spec().name.clone(),
            num_detected,
            faces,
            num_restored,
            detector_stats: stats,
            timings,
            notes: if req.aligned && req.upscale != 1 {
                vec![format!(
                    "upscale {} not applied: an aligned face is restored at the model size ({size}x{size})",
                    req.upscale
                )]
            } else {
                Vec::new()
            },
        })
    }
}

/// Runs image work on a blocking thread; a panic there becomes an internal error.
async fn blocking<T, F>(f: F) -> Result<T, PipelineError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, PipelineError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PipelineError::Internal(format!("an image stage panicked: {e}")))?
}

/// Decode, check the output size, detect, align.
fn prepare(
    engine: &Engine,
    limits: &Limits,
    input: &[u8],
    req: &Request,
    restorer: &Restorer,
    observer: &dyn StageObserver,
) -> Result<Prepared, PipelineError> {
    let size = restorer.spec().size;
    let mut timings = Timings::default();
    observer.entered(Stage::Decode);
    let t = Instant::now();
    let decoded = stages::decode(input, &limits.decode)?;
    timings.decode = elapsed_ms(t);
    let (w, h) = decoded.rgb.dimensions();
    let up = if req.aligned {
        1
    } else {
        u64::from(req.upscale)
    };
    let out_pixels = u64::from(w) * up * u64::from(h) * up;
    if !req.aligned && out_pixels > limits.max_output_pixels {
        return Err(PipelineError::input(
            ErrorCode::OutputTooLarge,
            format!(
                "{w}x{h} at upscale {} would be {}x{} = {:.1} MP, over the output limit of {:.1} MP",
                req.upscale,
                u64::from(w) * up,
                u64::from(h) * up,
                out_pixels as f64 / 1e6,
                limits.max_output_pixels as f64 / 1e6
            ),
        ));
    }
    let in_pixels = u64::from(w) * u64::from(h);
    if req.bg_upsampler.is_some() && !req.aligned && in_pixels > engine.bg_upsampler_max_pixels {
        return Err(PipelineError::input(
            ErrorCode::UpsamplerTooLarge,
            format!(
                "{w}x{h} = {:.2} MP is over this worker's background-upsampler limit of {:.2} MP \
                 (ask without bg_upsampler, or send a smaller image)",
                in_pixels as f64 / 1e6,
                engine.bg_upsampler_max_pixels as f64 / 1e6
            ),
        ));
    }
    let rgb = Arc::new(decoded.rgb);
    let background = if req.aligned || req.bg_upsampler.is_some() {
        None
    } else {
        Some(PendingBackground::start(Arc::clone(&rgb), req.upscale)?)
    };
    let (mut faces, mut crops, mut num_detected, mut stats) = (Vec::new(), Vec::new(), 0, None);
    if req.aligned {
        observer.entered(Stage::Align);
        let t = Instant::now();
        let side = restorer.input_side(f64::from(w.max(h)));
        crops.push(stages::resize_linear(&rgb, side, side));
        timings.align = elapsed_ms(t);
    } else {
        observer.entered(Stage::Detect);
        let t = Instant::now();
        let (found, s) = engine.detect_faces(&rgb, engine.detect_max_side)?;
        num_detected = found.len();
        faces = filter_faces(found, w, h, req.only_center_face);
        stats = Some(s);
        timings.detect = elapsed_ms(t);
        observer.entered(Stage::Align);
        let t = Instant::now();
        for f in &mut faces {
            let affine = stages::alignment(&f.landmarks, size);
            let side = restorer.input_side(stages::source_side(&affine, size));
            // An enlarging restorer is fed the face at its own side; the paste-back
            // uses the affine of the restored `size` crop either way.
            let (crop, _) = stages::align(&rgb, &f.landmarks, side);
            f.affine = Some(affine);
            crops.push(crop);
        }
        timings.align = elapsed_ms(t);
    }
    Ok(Prepared {
        rgb,
        background,
        alpha: decoded.alpha,
        format: decoded.format,
        source: decoded.source,
        faces,
        num_detected,
        stats,
        crops,
        timings,
    })
}
