//! Everything loaded at start: ONNX Runtime, the manifest, the detector and the
//! restorers, each on its own session threads.

use super::detect::{
    Detector, DetectorKind, DetectorStats, Mtcnn, MtcnnNets, RetinaFace, RetinaFaceSession,
    detect_at_working_resolution,
};
use super::error::PipelineError;
use super::face::Face;
use super::inference::model_args::ModelArgs;
use super::inference::runtime::{self, ActiveDevice, RuntimeError, SessionOptions};
use super::inference::tensorrt::TrtSettings;
use super::restore::tiles::Tiling;
use super::restore::{BatchPolicy, Restorer, RestorerSource};
use facefix_shared::ErrorCode;
use facefix_shared::models::{self, Manifest, ModelRole, Precision, UpsamplerInfo};
use facefix_shared::time::elapsed_ms;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// The loaded models.
pub struct Engine {
    pub models_dir: PathBuf,
    pub manifest: Manifest,
    pub detector: Detector,
    /// `--detect-max-side`: the long side detection works at (0 = full resolution).
    pub detect_max_side: u32,
    /// The default restorer first.
    restorers: Vec<Restorer>,
    /// The background upsamplers whose files are present, by `bg_upsampler` option value
    /// (sharing session threads with a restorer of the same model).
    bg_upsamplers: Vec<(String, Restorer)>,
    /// The largest input the background upsamplers take (width × height).
    pub bg_upsampler_max_pixels: u64,
    /// How the background upsamplers cut images.
    pub tiling: Tiling,
    /// Jobs between decode and restore (the restorer threads wait for batch-mates only
    /// while this is non-zero).
    pub upstream: Arc<AtomicUsize>,
    /// Where the restorers run (the detector's device is logged at load).
    pub device: ActiveDevice,
    pub load_ms: f64,
}

/// Loads the detector `--detector` chose (only that one) and says where it runs.
fn load_detector(
    env: &ort::environment::Environment,
    manifest: &Manifest,
    models_dir: &Path,
    args: &ModelArgs,
    restorer_opts: &SessionOptions,
) -> Result<(Detector, ActiveDevice), RuntimeError> {
    let opts = SessionOptions {
        device: args.detector_device,
        // Detectors have no fp16 variants: small, and their scores and landmarks decide
        // which faces exist.
        precision: Precision::Fp32,
        trt: TrtSettings {
            fp16: false,
            ..restorer_opts.trt.clone()
        },
        ..restorer_opts.clone()
    };
    if args.detector == DetectorKind::RetinaFace {
        let entry = manifest.detector(ModelRole::RetinaFace).ok_or_else(|| {
            RuntimeError::Config(
                "--detector retinaface: the manifest has no retinaface model".into(),
            )
        })?;
        // One pass per image: the configured intra-op threads, as many sessions as the
        // restorers get (MTCNN's many single-threaded sessions suit its tiny nets only).
        let session = RetinaFaceSession::start(env, models_dir, entry, &opts, args.sessions)?;
        let device = session.device;
        return Ok((Detector::RetinaFace(RetinaFace::new(session)), device));
    }
    let nets = [
        ModelRole::MtcnnPnet,
        ModelRole::MtcnnRnet,
        ModelRole::MtcnnOnet,
    ]
    .map(|r| manifest.detector(r));
    let [Some(p), Some(r), Some(o)] = nets else {
        return Err(RuntimeError::Config(
            "the manifest lacks an MTCNN net".into(),
        ));
    };
    let mtcnn_opts = SessionOptions {
        intra_threads: 1,
        ..opts
    };
    let nets = MtcnnNets::start(
        env,
        models_dir,
        [p, r, o],
        &mtcnn_opts,
        args.effective_detector_sessions(),
    )?;
    let device = nets.device;
    Ok((Detector::Mtcnn(Mtcnn::new(nets)), device))
}

/// Whether `--restorer` names a file rather than a manifest entry.
fn is_path(value: &str) -> bool {
    value.ends_with(".onnx") || value.contains('/') || value.contains(std::path::MAIN_SEPARATOR)
}

impl Engine {
    /// Loads everything `args` asks for. Slow (model loading): call it before serving,
    /// from a blocking context.
    pub fn load(args: &ModelArgs) -> Result<Self, RuntimeError> {
        let t = Instant::now();
        let models_dir = models::locate_models_dir(args.models_dir.as_deref())
            .map_err(|e| RuntimeError::Config(e.to_string()))?;
        let manifest =
            Manifest::load_dir(&models_dir).map_err(|e| RuntimeError::Config(e.to_string()))?;
        let env = runtime::environment(args.ort_dylib.as_deref())?;
        let opts = SessionOptions {
            trt: args.trt_settings(&models_dir),
            ..args.session_options()
        };
        let (detector, nets_device) = load_detector(&env, &manifest, &models_dir, args, &opts)?;
        let upstream = Arc::new(AtomicUsize::new(0));
        let policy = BatchPolicy {
            max_batch: 1,
            max_wait: Duration::from_millis(args.batch_wait_ms),
            upstream: Arc::clone(&upstream),
        };
        let start = |source: RestorerSource<'_>| {
            Restorer::start(
                &env,
                &models_dir,
                source,
                &opts,
                args.sessions,
                args.max_batch,
                policy.clone(),
            )
        };
        let default_name = args
            .restorer
            .clone()
            .unwrap_or_else(|| manifest.default_restorer_in(&models_dir).name.clone());
        let mut restorers = Vec::new();
        if let Some(entry) = is_path(&default_name)
            .then(|| manifest_entry_for_file(&manifest, &models_dir, Path::new(&default_name)))
            .flatten()
        {
            // A path to a manifest model is that model, sha256 check included.
            restorers.push(start(RestorerSource::Manifest(entry))?);
        } else if is_path(&default_name) {
            restorers.push(start(RestorerSource::Path(Path::new(&default_name)))?);
        } else {
            restorers.push(start(RestorerSource::Manifest(lookup(
                &manifest,
                &models_dir,
                &default_name,
            )?))?);
        }
        for name in &args.restorers {
            if restorers.iter().any(|r| &r.spec().name == name) {
                continue;
            }
            restorers.push(start(RestorerSource::Manifest(lookup(
                &manifest,
                &models_dir,
                name,
            )?))?);
        }
        // Without an explicit --restorer, the other default candidates whose files are here
        // too (the built unsharp mask where the learned model leads): tiny, and what a job
        // asks for when it wants speed.
        let candidates = manifest.models.iter().filter(|m| {
            args.restorer.is_none() && m.default && !m.hidden && m.path_in(&models_dir).is_file()
        });
        for entry in candidates {
            if !restorers.iter().any(|r| r.spec().name == entry.name) {
                restorers.push(start(RestorerSource::Manifest(entry))?);
            }
        }
        let mut bg_upsamplers = Vec::new();
        for entry in manifest.models.iter().filter(|m| m.bg_upsampler.is_some()) {
            let option = entry.bg_upsampler.clone().unwrap_or_default();
            let loaded = restorers.iter().find(|r| r.spec().name == entry.name);
            let upsampler = match loaded {
                Some(r) => r.clone(),
                // Optional: a worker without the file still serves faces.
                None if !entry.path_in(&models_dir).is_file() => {
                    tracing::info!(model = %entry.name, option, "background upsampler not installed");
                    continue;
                }
                None => start(RestorerSource::Manifest(entry))?,
            };
            bg_upsamplers.push((option, upsampler));
        }
        let load_ms = elapsed_ms(t);
        // What the job metadata reports: where the restorer (the costly stage) runs.
        let device = restorers[0].device();
        tracing::info!(
            models_dir = %models_dir.display(), device = device.as_str(),
            detector_device = nets_device.as_str(), load_ms, "models loaded"
        );
        let bg_upsampler_max_pixels = args
            .bg_upsampler_max_pixels
            .unwrap_or_else(|| models::bg_upsampler_default_max_pixels(device.is_gpu()));
        Ok(Self {
            models_dir,
            manifest,
            detector,
            detect_max_side: args.detect_max_side,
            restorers,
            bg_upsamplers,
            bg_upsampler_max_pixels,
            tiling: Tiling {
                tile: args.tile,
                overlap: args.tile_overlap,
            },
            upstream,
            device,
            load_ms,
        })
    }

    /// Faces in `img`, detected on a copy shrunk to `max_side` (0 = at full resolution)
    /// and refined at full resolution; the pipeline passes [`Engine::detect_max_side`].
    /// Blocks on the detector threads: call from a blocking thread.
    pub fn detect_faces(
        &self,
        img: &RgbImage,
        max_side: u32,
    ) -> Result<(Vec<Face>, DetectorStats), PipelineError> {
        let (faces, mut stats, working) = detect_at_working_resolution(
            img,
            max_side,
            |im| self.detector.detect(im),
            |full, found| self.detector.refine(full, found),
        )?;
        stats.set_working_resolution(working);
        Ok((faces, stats))
    }

    /// The restorer a job asked for (`None` = the default).
    pub fn restorer(&self, name: Option<&str>) -> Result<&Restorer, PipelineError> {
        match name {
            None => Ok(&self.restorers[0]),
            Some(n) => self
                .restorers
                .iter()
                .find(|r| r.spec().name == n)
                .ok_or_else(|| {
                    let known: Vec<&str> = self
                        .restorers
                        .iter()
                        .map(|r| r.spec().name.as_str())
                        .collect();
                    PipelineError::input(
                        ErrorCode::UnknownModel,
                        format!(
                            "model {n:?} is not loaded on this worker (loaded: {})",
                            known.join(", ")
                        ),
                    )
                }),
        }
    }

    /// Loaded restorers, the default first.
    pub fn restorers(&self) -> &[Restorer] {
        &self.restorers
    }

    /// The background upsampler a job asked for (`bg_upsampler` option value).
    pub fn bg_upsampler(&self, option: &str) -> Result<&Restorer, PipelineError> {
        self.bg_upsamplers
            .iter()
            .find(|(name, _)| name == option)
            .map(|(_, r)| r)
            .ok_or_else(|| {
                let known: Vec<&str> = self.bg_upsamplers.iter().map(|(n, _)| n.as_str()).collect();
                PipelineError::input(
                    ErrorCode::UnknownModel,
                    format!(
                        "background upsampler {option:?} is not installed on this worker (installed: {})",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                )
            })
    }

    /// The background upsamplers as clients see them.
    pub fn upsamplers(&self) -> Vec<UpsamplerInfo> {
        self.bg_upsamplers
            .iter()
            .map(|(option, r)| UpsamplerInfo {
                name: option.clone(),
                model: r.spec().name.clone(),
                description: r.spec().description.clone(),
                licence: r.spec().licence.clone(),
                max_pixels: self.bg_upsampler_max_pixels,
            })
            .collect()
    }
}

/// The manifest restorer whose file `path` is, if any.
fn manifest_entry_for_file<'m>(
    manifest: &'m Manifest,
    models_dir: &Path,
    path: &Path,
) -> Option<&'m models::ModelEntry> {
    let wanted = std::fs::canonicalize(path).ok()?;
    manifest.models.iter().find(|m| {
        m.role == ModelRole::Restorer
            && std::fs::canonicalize(m.path_in(models_dir)).is_ok_and(|p| p == wanted)
    })
}

fn lookup<'m>(
    manifest: &'m Manifest,
    models_dir: &Path,
    name: &str,
) -> Result<&'m models::ModelEntry, RuntimeError> {
    manifest.restorer(name).ok_or_else(|| {
        let known: Vec<&str> = manifest
            .listed_restorers(models_dir)
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        RuntimeError::Config(format!(
            "unknown restorer {name:?} (manifest {}: {})",
            manifest.path.display(),
            known.join(", ")
        ))
    })
}
