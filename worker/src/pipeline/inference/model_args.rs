//! `ModelArgs`: where the models and ONNX Runtime are and how inference runs. Flattened
//! into the `worker`, `serve` and `restore` subcommands; every flag is also a
//! `FACEFIX_…` environment variable.

use super::runtime::{ConvSearch, CudaTuning, Device, SessionOptions};
use super::tensorrt::{self, TrtSettings};
use clap::Args;
use facefix_shared::models::Precision;
use std::path::{Path, PathBuf};

/// Default output pixel limit: 150 MP (a 33 MP photo at ×2 fits; 40 MP at ×2 does not).
/// The paste-back holds the output as 8-bit RGB (450 MB at the limit) plus per-face
/// float buffers, so this bounds a job's memory whatever its upscale.
pub const DEFAULT_MAX_OUTPUT_PIXELS: u64 = 150_000_000;

/// Models, ONNX Runtime and inference settings.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Directory holding `manifest.toml` and the model files. Unset: `./models`, then
    /// `models` next to or above the executable, then `/opt/facefix/models`.
    #[arg(long, env = "FACEFIX_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,

    /// Restorer used when a job names none: a manifest name (e.g. `gfpgan-1.4`) or a path
    /// to an ONNX file with the GFPGAN I/O contract. Unset: the manifest's default.
    #[arg(long, env = "FACEFIX_RESTORER")]
    pub restorer: Option<String>,

    /// More manifest restorers to load, comma-separated, so jobs can ask for them with
    /// `model` (each costs its sessions' memory).
    #[arg(long, env = "FACEFIX_RESTORERS", value_delimiter = ',')]
    pub restorers: Vec<String>,

    /// ONNX Runtime shared library (libonnxruntime.so.1.31.1). Unset: `ORT_DYLIB_PATH`,
    /// then the project venv `.venv` (in the working directory or above the
    /// executable), then `lib/` by the executable, `/opt/onnxruntime/lib`, then the
    /// dynamic linker's search path.
    #[arg(long, env = "FACEFIX_ORT_DYLIB")]
    pub ort_dylib: Option<PathBuf>,

    /// Where inference runs: `cpu`; `cuda` (start fails if the CUDA execution provider
    /// cannot be registered); `auto` (CUDA if it works, else CPU, logged; never
    /// TensorRT); `tensorrt` (TensorRT, CUDA for the nodes it refuses; start fails
    /// without ONNX Runtime's GPU build and TensorRT's libraries).
    #[arg(long, env = "FACEFIX_DEVICE", value_enum, default_value_t = Device::Auto)]
    pub device: Device,

    /// Restorers' precision: `fp32`, or `fp16` (their manifest `fp16` variant, made by
    /// scripts/setup-models.sh; start fails for a model without one). The detector stays
    /// fp32. With `--device tensorrt`, fp16 has TensorRT build fp16 kernels from the fp32
    /// graph instead.
    #[arg(long, env = "FACEFIX_PRECISION", value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,

    /// TensorRT engine and timing cache directory (`--device tensorrt`). Unset:
    /// `cache/tensorrt` in the models directory.
    #[arg(long, env = "FACEFIX_TRT_ENGINE_CACHE")]
    pub trt_engine_cache: Option<PathBuf>,

    /// CUDA device ordinal.
    #[arg(long, env = "FACEFIX_CUDA_DEVICE", default_value_t = 0)]
    pub cuda_device: i32,

    /// How cuDNN chooses convolution kernels on CUDA: `heuristic` (no start-up cost),
    /// `exhaustive` (benchmarks each new batch shape once, seconds, then the fastest), or
    /// `default`.
    #[arg(long, env = "FACEFIX_CUDA_CONV_SEARCH", value_enum, default_value_t = ConvSearch::Heuristic)]
    pub cuda_conv_search: ConvSearch,

    /// On CUDA, run convolutions in NHWC layout (often faster on tensor cores).
    #[arg(long, env = "FACEFIX_CUDA_NHWC", value_parser = clap::builder::BoolishValueParser::new())]
    pub cuda_nhwc: bool,

    /// Intra-op threads per session (0 = the cores divided among the sessions).
    #[arg(long, env = "FACEFIX_INTRA_THREADS", default_value_t = 0)]
    pub intra_threads: usize,

    /// Concurrent sessions (OS threads) per restorer and for the detector. On a GPU, 1–2
    /// with batching; on CPU, more sessions with fewer threads each suit many small jobs.
    #[arg(long, env = "FACEFIX_SESSIONS", default_value_t = 1)]
    pub sessions: usize,

    /// Face detector: `mtcnn` (the cascade) or `retinaface` (RetinaFace MobileNet-0.25,
    /// one pass; its model comes from scripts/setup-models.sh). Only the chosen one is
    /// loaded; jobs cannot choose.
    #[arg(long, env = "FACEFIX_DETECTOR", value_enum, default_value_t = DetectorKind::Mtcnn)]
    pub detector: DetectorKind,

    /// Where the face detector (MTCNN or RetinaFace) runs: `cpu`, `cuda` or `auto`. CPU by
    /// default even on GPU workers: the nets are small and every photo size gives them new
    /// input shapes (MTCNN's pyramid most of all). On an H200 host a one-shot restore of a 512x512 photo spent 736 ms
    /// detecting on CUDA against 48 ms on the CPU (826 against 451 ms end to end, CUDA's
    /// start-up included; see docs/pipeline.md).
    #[arg(long, env = "FACEFIX_DETECTOR_DEVICE", value_enum, default_value_t = Device::Cpu)]
    pub detector_device: Device,

    /// Detector (MTCNN) sessions, each on its own thread with one intra-op thread
    /// (0 = one per core). Large photos are cut into tiles that run on all of them at
    /// once; small nets run faster single-threaded than split across cores.
    #[arg(long, env = "FACEFIX_DETECTOR_SESSIONS", default_value_t = 0)]
    pub detector_sessions: usize,

    /// Detect faces on a copy of the photo shrunk (area resize) to this long side, px, then
    /// re-measure each face at full resolution (MTCNN: ONet on full-resolution crops);
    /// `0` = detect at full resolution. Smaller photos are not touched. See
    /// docs/pipeline.md, "Detection at working resolution", for the measurement behind
    /// the default.
    #[arg(long, env = "FACEFIX_DETECT_MAX_SIDE", default_value_t = DEFAULT_DETECT_MAX_SIDE)]
    pub detect_max_side: u32,

    /// Most faces per restorer run (also capped by each model's manifest `max_batch`;
    /// models with a fixed batch of 1 always run face by face).
    #[arg(long, env = "FACEFIX_MAX_BATCH")]
    pub max_batch: Option<u32>,

    /// How long a restorer session waits for faces of other jobs to fill a batch, ms.
    /// Only while other jobs are still before the restore stage; a lone job never waits.
    #[arg(long, env = "FACEFIX_BATCH_WAIT_MS", default_value_t = 5)]
    pub batch_wait_ms: u64,

    /// Largest output, in pixels (width × height after upscale). A job whose upscale
    /// would exceed it is refused with `output-too-large` (nothing is clamped silently).
    #[arg(long, env = "FACEFIX_MAX_OUTPUT_PIXELS", default_value_t = DEFAULT_MAX_OUTPUT_PIXELS)]
    pub max_output_pixels: u64,

    /// Largest input (width × height) the background upsampler (`bg_upsampler`) takes; a
    /// larger one is refused with `upsampler-too-large`. Unset: the device's default (see
    /// `facefix_shared::models::bg_upsampler_default_max_pixels`: small on CPU, where the
    /// network costs about a minute per 0.1 MP on two cores).
    #[arg(long, env = "FACEFIX_BG_UPSAMPLER_MAX_PIXELS")]
    pub bg_upsampler_max_pixels: Option<u64>,

    /// Side of a background-upsampler tile's core, pixels: bounds the network's memory
    /// (activations grow with the tile, not the image).
    #[arg(long, env = "FACEFIX_TILE", default_value_t = DEFAULT_TILE, value_parser = clap::value_parser!(u32).range(16..=2048))]
    pub tile: u32,

    /// Context around each tile's core, pixels: the network sees this much of the
    /// neighbours, and only the core of its output is kept, so seams do not show.
    #[arg(long, env = "FACEFIX_TILE_OVERLAP", default_value_t = DEFAULT_TILE_OVERLAP, value_parser = clap::value_parser!(u32).range(0..=256))]
    pub tile_overlap: u32,
}

/// Default `--detect-max-side` (docs/pipeline.md, "Detection at working resolution").
pub const DEFAULT_DETECT_MAX_SIDE: u32 = 1600;

/// Default background-upsampler tile core side.
pub const DEFAULT_TILE: u32 = 192;
/// Default context around each tile.
pub const DEFAULT_TILE_OVERLAP: u32 = 16;

impl Default for ModelArgs {
    fn default() -> Self {
        Self {
            models_dir: None,
            restorer: None,
            restorers: Vec::new(),
            ort_dylib: None,
            device: Device::Auto,
            precision: Precision::Fp32,
            trt_engine_cache: None,
            cuda_device: 0,
            cuda_conv_search: ConvSearch::Heuristic,
            cuda_nhwc: false,
            intra_threads: 0,
            sessions: 1,
            detector_sessions: 0,
            detector_device: Device::Cpu,
            detect_max_side: DEFAULT_DETECT_MAX_SIDE,
            detector: DetectorKind::Mtcnn,
            max_batch: None,
            batch_wait_ms: 5,
            max_output_pixels: DEFAULT_MAX_OUTPUT_PIXELS,
            bg_upsampler_max_pixels: None,
            tile: DEFAULT_TILE,
            tile_overlap: DEFAULT_TILE_OVERLAP,
        }
    }
}

impl ModelArgs {
    /// Detector sessions: as given, or one per core.
    pub fn effective_detector_sessions(&self) -> usize {
        if self.detector_sessions > 0 {
            return self.detector_sessions;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// The CUDA execution provider's tuning flags.
    pub fn cuda_tuning(&self) -> CudaTuning {
        CudaTuning {
            conv_search: self.cuda_conv_search,
            prefer_nhwc: self.cuda_nhwc,
        }
    }

    /// How the restorer sessions are built (the detector's differ in device and threads).
    pub fn session_options(&self) -> SessionOptions {
        SessionOptions {
            device: self.device,
            cuda_device_id: self.cuda_device,
            intra_threads: self.effective_intra_threads(),
            cuda: self.cuda_tuning(),
            precision: self.precision,
            trt: self.trt_settings(Path::new("models")),
            trt_profile: None,
        }
    }

    /// TensorRT's cache and fp16 setting, the cache defaulting into `models_dir`.
    pub fn trt_settings(&self, models_dir: &Path) -> TrtSettings {
        TrtSettings {
            cache_dir: self
                .trt_engine_cache
                .clone()
                .unwrap_or_else(|| tensorrt::default_cache_dir(models_dir)),
            fp16: self.precision == Precision::Fp16,
            max_tile_side: self.tile + 2 * self.tile_overlap,
        }
    }

    /// Intra-op threads per session: as given, or the cores shared among the sessions.
    pub fn effective_intra_threads(&self) -> usize {
        if self.intra_threads > 0 {
            return self.intra_threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.sessions.max(1)).max(1)
    }
}

/// Which detector a worker loads (`--detector`, `FACEFIX_DETECTOR`); one per process, jobs
/// cannot choose. The detectors live in `pipeline::detect` (which re-exports this); the
/// choice is configuration, so it lives with the other flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectorKind {
    /// The MTCNN cascade (PNet pyramid, RNet, ONet).
    #[default]
    Mtcnn,
    /// RetinaFace MobileNet-0.25, one pass over the whole image (what facexlib, and so
    /// GFPGAN and CodeFormer, detect with).
    #[value(name = "retinaface")]
    RetinaFace,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelArgs,
    }

    #[test]
    fn defaults_match_default_impl() {
        let cli = Cli::try_parse_from(["x"]).expect("parse");
        let d = ModelArgs::default();
        assert_eq!(cli.model.device, d.device);
        assert_eq!(cli.model.sessions, d.sessions);
        assert_eq!(cli.model.detector_sessions, d.detector_sessions);
        assert_eq!(cli.model.detect_max_side, d.detect_max_side);
        assert!(d.effective_detector_sessions() >= 1);
        assert_eq!(cli.model.batch_wait_ms, d.batch_wait_ms);
        assert_eq!(cli.model.max_output_pixels, d.max_output_pixels);
        assert_eq!(
            (cli.model.tile, cli.model.tile_overlap),
            (d.tile, d.tile_overlap)
        );
        assert_eq!(cli.model.bg_upsampler_max_pixels, None);
        assert_eq!(cli.model.precision, Precision::Fp32);
        assert_eq!(cli.model.precision, d.precision);
        assert_eq!(cli.model.detector, d.detector);
        assert_eq!(d.detector, DetectorKind::Mtcnn);
    }

    #[test]
    fn precision_and_tensorrt_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "--device",
            "tensorrt",
            "--precision",
            "fp16",
            "--trt-engine-cache",
            "/var/cache/trt",
        ])
        .expect("parse");
        assert_eq!(cli.model.device, Device::TensorRt);
        let opts = cli.model.session_options();
        assert_eq!(opts.precision, Precision::Fp16);
        // TensorRT builds fp16 itself from the fp32 graph.
        assert_eq!(opts.file_precision(), Precision::Fp32);
        assert!(opts.trt.fp16);
        assert_eq!(opts.trt.cache_dir, PathBuf::from("/var/cache/trt"));
        let cuda = Cli::try_parse_from(["x", "--device", "cuda", "--precision", "fp16"])
            .expect("parse")
            .model;
        assert_eq!(cuda.session_options().file_precision(), Precision::Fp16);
        assert_eq!(
            cuda.trt_settings(Path::new("/m")).cache_dir,
            PathBuf::from("/m/cache/tensorrt")
        );
        assert!(Cli::try_parse_from(["x", "--precision", "fp8"]).is_err());
    }

    #[test]
    fn parses_the_detector() {
        let cli = Cli::try_parse_from(["x", "--detector", "retinaface"]).expect("parse");
        assert_eq!(cli.model.detector, DetectorKind::RetinaFace);
        assert!(Cli::try_parse_from(["x", "--detector", "yolo"]).is_err());
    }

    #[test]
    fn parses_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "--device",
            "cuda",
            "--sessions",
            "2",
            "--restorers",
            "a,b",
            "--max-batch",
            "8",
            "--detect-max-side",
            "1600",
        ])
        .expect("parse");
        assert_eq!(cli.model.device, Device::Cuda);
        assert_eq!(cli.model.restorers, vec!["a", "b"]);
        assert_eq!(cli.model.max_batch, Some(8));
        assert_eq!(cli.model.detect_max_side, 1600);
        assert!(cli.model.effective_intra_threads() >= 1);
    }
}
