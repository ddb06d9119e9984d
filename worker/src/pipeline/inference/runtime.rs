//! ONNX Runtime: finding and loading the shared library, the one process-wide
//! environment, the execution provider (CPU / CUDA / TensorRT) and session construction.
//!
//! `ort` is built with `load-dynamic`: nothing links against ONNX Runtime, the library is
//! dlopened at start. Users never export anything: [`locate_dylib`] searches the places
//! the project's setup and images put it.

use super::tensorrt::{self, Profile, TrtSettings};
use facefix_shared::models::Precision;
use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The ONNX Runtime release the project pins (the `onnxruntime` wheel's library).
pub const ORT_VERSION: &str = "1.31.1";

/// The library file name of that release.
pub fn dylib_name() -> String {
    format!("libonnxruntime.so.{ORT_VERSION}")
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// CPU execution provider only.
    Cpu,
    /// CUDA execution provider; start fails if it cannot be registered.
    Cuda,
    /// CUDA when it can be registered, else CPU (logged). Never TensorRT: its engine
    /// builds take minutes and need its own libraries, so it is only ever asked for.
    Auto,
    /// TensorRT execution provider, CUDA for the nodes it refuses; start fails if either
    /// cannot be registered (needs ONNX Runtime's GPU build and TensorRT's libraries).
    #[value(name = "tensorrt")]
    TensorRt,
}

/// What a session actually runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveDevice {
    Cpu,
    Cuda,
    #[serde(rename = "tensorrt")]
    TensorRt,
}

impl ActiveDevice {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
        }
    }

    /// On a GPU (CUDA, with or without TensorRT).
    pub fn is_gpu(self) -> bool {
        self != Self::Cpu
    }
}

/// Failures loading the runtime or building a session; all are start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked for {searched}); run scripts/setup-models.sh, \
         or pass --ort-dylib / FACEFIX_ORT_DYLIB"
    )]
    DylibNotFound { searched: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    DylibLoad { path: PathBuf, message: String },
    #[error("cannot create the ONNX Runtime environment: {0}")]
    Environment(String),
    #[error("model file {path} is missing: {hint}")]
    ModelMissing { path: PathBuf, hint: String },
    #[error("cannot read model file {path}: {source}")]
    ModelRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "model file {path} has sha256 {actual}, expected {expected} ({origin}); refusing to load it"
    )]
    ModelChecksum {
        path: PathBuf,
        actual: String,
        expected: String,
        origin: &'static str,
    },
    #[error("cannot load model {path}: {message}")]
    Session { path: PathBuf, message: String },
    #[error("--device cuda: the CUDA execution provider cannot be used for {path}: {message}")]
    CudaUnavailable { path: PathBuf, message: String },
    #[error(
        "--device tensorrt: this ONNX Runtime library ({dylib}) has no TensorRT execution \
         provider; use ONNX Runtime's GPU build with TensorRT's libraries on the library \
         path (docs/pipeline.md, \"Precision and TensorRT\"), or --device cuda"
    )]
    TensorRtMissing { dylib: String },
    #[error("--device tensorrt: TensorRT or CUDA cannot be used for {path}: {message}")]
    TensorRtUnavailable { path: PathBuf, message: String },
    #[error("{0}")]
    Precision(#[from] facefix_shared::models::NoVariant),
    #[error("model {model}: {message}")]
    Contract { model: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// The candidate paths of the ONNX Runtime library, in search order:
/// 1. `explicit` (`--ort-dylib` / `FACEFIX_ORT_DYLIB`), then `ORT_DYLIB_PATH`;
/// 2. the project-local venv `.venv/lib/python3*/site-packages/onnxruntime/capi/` in the
///    working directory and in each ancestor of the executable (a `target/*/facefix`
///    inside the checkout finds the checkout's venv);
/// 3. `lib/` next to or above the executable, and `/opt/onnxruntime/lib` (the images);
/// 4. the bare file name, left to the dynamic linker (`LD_LIBRARY_PATH`, ldconfig).
pub fn dylib_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let name = dylib_name();
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    let exe_dirs: Vec<PathBuf> = std::env::current_exe()
        .ok()
        .map(|exe| {
            exe.ancestors()
                .skip(1)
                .take(5)
                .map(Path::to_path_buf)
                .collect()
        })
        .unwrap_or_default();
    roots.extend(exe_dirs.iter().cloned());
    for root in &roots {
        out.extend(venv_libs(&root.join(".venv"), &name));
    }
    for dir in exe_dirs.iter().take(2) {
        out.push(dir.join("lib").join(&name));
    }
    out.push(PathBuf::from("/opt/onnxruntime/lib").join(&name));
    out.push(PathBuf::from(&name));
    out
}

/// `<venv>/lib/python3.*/site-packages/onnxruntime/capi/<name>` for each Python found.
fn venv_libs(venv: &Path, name: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages/onnxruntime/capi").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// The first candidate that exists (a bare file name is tried by the loader itself).
pub fn locate_dylib(explicit: Option<&Path>) -> Result<PathBuf, RuntimeError> {
    let candidates = dylib_candidates(explicit);
    if explicit.is_some() {
        return Ok(candidates.into_iter().next().unwrap_or_default());
    }
    candidates
        .iter()
        .find(|p| p.components().count() > 1 && p.is_file())
        .or_else(|| candidates.last())
        .cloned()
        .ok_or_else(|| RuntimeError::DylibNotFound {
            searched: String::new(),
        })
}

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
/// The library the environment was created from (for messages).
static DYLIB: OnceLock<PathBuf> = OnceLock::new();

/// The ONNX Runtime library this process loaded, if it has.
pub fn loaded_dylib() -> Option<&'static Path> {
    DYLIB.get().map(PathBuf::as_path)
}
static ENV_INIT: Mutex<()> = Mutex::new(());

/// The process's ONNX Runtime environment, created on first use from the library found by
/// [`locate_dylib`]. ONNX Runtime allows exactly one environment per process (and one
/// library), so later calls return the first one whatever `explicit` says.
pub fn environment(explicit: Option<&Path>) -> Result<Environment, RuntimeError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    // Serialise creation: two threads racing into `build()` would get "only one
    // environment is allowed per process" for the loser.
    let _guard = ENV_INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let path = locate_dylib(explicit)?;
    if path.components().count() > 1 && !path.is_file() {
        return Err(RuntimeError::DylibNotFound {
            searched: path.display().to_string(),
        });
    }
    let builder = ort::init_from(&path).map_err(|e| RuntimeError::DylibLoad {
        path: path.clone(),
        message: format!(
            "{e}{}",
            if path.components().count() == 1 {
                format!(
                    " (not found in: {})",
                    dylib_candidates(explicit)
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            }
        ),
    })?;
    let env = builder
        .with_name("facefix")
        .with_telemetry(false)
        .build()
        .map_err(|e| RuntimeError::Environment(e.to_string()))?;
    tracing::info!(dylib = %path.display(), "ONNX Runtime loaded");
    let _ = DYLIB.set(path);
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}

/// How to build one session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub device: Device,
    pub cuda_device_id: i32,
    /// Intra-op threads (0 = ONNX Runtime's default, about one per core).
    pub intra_threads: usize,
    pub cuda: CudaTuning,
    /// Which graph of a restorer to load (`--precision`); the detector's are always fp32.
    pub precision: Precision,
    /// Engine cache and fp16 for `--device tensorrt`.
    pub trt: TrtSettings,
    /// The TensorRT optimisation profile of the model being loaded (set per restorer).
    pub trt_profile: Option<Profile>,
}

impl Default for SessionOptions {
    /// CPU, ONNX Runtime's thread count, fp32.
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            cuda_device_id: 0,
            intra_threads: 0,
            cuda: CudaTuning::default(),
            precision: Precision::Fp32,
            trt: TrtSettings::default(),
            trt_profile: None,
        }
    }
}

impl SessionOptions {
    /// The precision of the file to load. TensorRT takes the fp32 graph even under
    /// `--precision fp16`: it builds fp16 kernels itself (`trt_fp16_enable`), choosing
    /// per layer, so the nodes it hands back to CUDA stay fp32 and a model without a
    /// converted variant (a fetched GFPGAN) still runs in fp16 there.
    pub fn file_precision(&self) -> Precision {
        match self.device {
            Device::TensorRt => Precision::Fp32,
            _ => self.precision,
        }
    }
}

/// The execution providers a session is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Providers {
    Cpu,
    Cuda,
    /// TensorRT first, CUDA for what it refuses.
    TensorRt,
}

/// How cuDNN picks convolution algorithms (`--cuda-conv-search`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvSearch {
    /// cuDNN's heuristics: no start-up cost, sometimes a slower kernel.
    #[default]
    Heuristic,
    /// Benchmark every algorithm on the first run of each input shape (seconds per new
    /// batch size), then use the fastest.
    Exhaustive,
    /// cuDNN's default algorithm, no search.
    Default,
}

/// CUDA execution provider settings that trade start-up time or layout for speed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CudaTuning {
    pub conv_search: ConvSearch,
    /// Run convolutions in NHWC layout (tensor cores prefer it).
    pub prefer_nhwc: bool,
}

/// Builds a session for `path` on the requested device. `cuda` fails if the CUDA
/// execution provider cannot be registered; `auto` falls back to CPU and logs why.
pub fn build_session(
    env: &Environment,
    path: &Path,
    opts: &SessionOptions,
) -> Result<(Session, ActiveDevice), RuntimeError> {
    match opts.device {
        Device::Cpu => Ok((
            build_on(env, path, opts, Providers::Cpu)?,
            ActiveDevice::Cpu,
        )),
        Device::TensorRt => {
            // Checked first: without it ONNX Runtime would only log that the provider is
            // missing and build a CPU session.
            if !tensorrt::available() {
                return Err(RuntimeError::TensorRtMissing {
                    dylib: loaded_dylib()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(dylib_name),
                });
            }
            std::fs::create_dir_all(&opts.trt.cache_dir).map_err(|e| {
                RuntimeError::Config(format!(
                    "cannot create the TensorRT engine cache {}: {e}",
                    opts.trt.cache_dir.display()
                ))
            })?;
            let s = build_on(env, path, opts, Providers::TensorRt).map_err(|e| match e {
                RuntimeError::Session { path, message } => {
                    RuntimeError::TensorRtUnavailable { path, message }
                }
                other => other,
            })?;
            Ok((s, ActiveDevice::TensorRt))
        }
        Device::Cuda => {
            let s = build_on(env, path, opts, Providers::Cuda).map_err(|e| match e {
                RuntimeError::Session { path, message } => {
                    RuntimeError::CudaUnavailable { path, message }
                }
                other => other,
            })?;
            Ok((s, ActiveDevice::Cuda))
        }
        Device::Auto => {
            // The CPU wheel's library has no CUDA at all: skip the attempt (and its error
            // log) rather than fail over on every session.
            if !matches!(ep::CUDA::is_available(), Ok(true)) {
                tracing::info!(model = %path.display(), "device auto: this ONNX Runtime has no CUDA execution provider; using CPU");
                return Ok((
                    build_on(env, path, opts, Providers::Cpu)?,
                    ActiveDevice::Cpu,
                ));
            }
            match build_on(env, path, opts, Providers::Cuda) {
                Ok(s) => Ok((s, ActiveDevice::Cuda)),
                Err(e) => {
                    tracing::warn!(model = %path.display(), error = %e, "device auto: CUDA unusable, falling back to CPU");
                    Ok((
                        build_on(env, path, opts, Providers::Cpu)?,
                        ActiveDevice::Cpu,
                    ))
                }
            }
        }
    }
}

fn build_on(
    env: &Environment,
    path: &Path,
    opts: &SessionOptions,
    providers: Providers,
) -> Result<Session, RuntimeError> {
    build_session_raw(env, path, opts, providers).map_err(|e| RuntimeError::Session {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

// Kept in a function returning `ort::Result`: the builder's error type is !Send and does
// not convert into ours with `?` directly.
fn build_session_raw(
    env: &Environment,
    path: &Path,
    opts: &SessionOptions,
    providers: Providers,
) -> ort::Result<Session> {
    let mut builder = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(opts.intra_threads)?
        .with_inter_threads(1)?
        // Session threads block on a channel between runs: spinning would burn the cores
        // the image stages need.
        .with_intra_op_spinning(false)?;
    let cuda = || {
        ep::CUDA::default()
            .with_device_id(opts.cuda_device_id)
            .with_conv_algorithm_search(match opts.cuda.conv_search {
                ConvSearch::Heuristic => ep::cuda::ConvAlgorithmSearch::Heuristic,
                ConvSearch::Exhaustive => ep::cuda::ConvAlgorithmSearch::Exhaustive,
                ConvSearch::Default => ep::cuda::ConvAlgorithmSearch::Default,
            })
            .with_prefer_nhwc(opts.cuda.prefer_nhwc)
            .build()
            .error_on_failure()
    };
    match providers {
        Providers::Cpu => {}
        Providers::Cuda => builder = builder.with_execution_providers([cuda()])?,
        Providers::TensorRt => {
            // Order is priority: TensorRT claims the nodes it can, CUDA the rest.
            let trt = tensorrt::provider(&opts.trt, opts.cuda_device_id, opts.trt_profile.as_ref());
            builder = builder.with_execution_providers([trt, cuda()])?;
        }
    }
    builder.commit_from_file(path)
}

/// Checks a model file before loading it: present, and matching the manifest's sha256
/// (or the pin `FILE.sha256` written by `models/fetch.sh`). Files with neither are
/// loaded with a warning.
pub fn verify_model_file(path: &Path, manifest_sha256: Option<&str>) -> Result<(), RuntimeError> {
    if !path.is_file() {
        return Err(RuntimeError::ModelMissing {
            path: path.to_path_buf(),
            hint: "run scripts/setup-models.sh (default models) or models/fetch.sh NAME \
                   (production restorers)"
                .into(),
        });
    }
    let (expected, origin) = match manifest_sha256 {
        Some(s) => (s.to_string(), "models/manifest.toml"),
        None => match facefix_shared::models::pinned_sha256(path) {
            Some(s) => (s, "the pin written on first fetch"),
            None => {
                tracing::warn!(model = %path.display(), "no sha256 to check this model against");
                return Ok(());
            }
        },
    };
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(RuntimeError::ModelChecksum {
            path: path.to_path_buf(),
            actual,
            expected,
            origin,
        });
    }
    Ok(())
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, RuntimeError> {
    let read_err = |source| RuntimeError::ModelRead {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dylib_is_the_only_candidate() {
        let c = dylib_candidates(Some(Path::new("/x/lib.so")));
        assert_eq!(c, vec![PathBuf::from("/x/lib.so")]);
    }

    #[test]
    fn search_order_ends_with_images_and_loader() {
        let c = dylib_candidates(None);
        let n = c.len();
        assert!(n >= 2);
        assert_eq!(c[n - 1], PathBuf::from(dylib_name()));
        assert_eq!(
            c[n - 2],
            PathBuf::from("/opt/onnxruntime/lib").join(dylib_name())
        );
    }

    #[test]
    fn sha256_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").expect("write");
        assert_eq!(
            sha256_file(&p).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(verify_model_file(&p, Some(&"0".repeat(64))).is_err());
        assert!(verify_model_file(&dir.path().join("missing"), None).is_err());
    }
}
