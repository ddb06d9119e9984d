//! The model catalog: `models/manifest.toml`, parsed and validated.
//!
//! Shared so that the API can list restorers and validate a job's `model` option without
//! loading ONNX Runtime, and the worker can find, verify and shape-check the files it
//! loads. The manifest format is documented at the top of `models/manifest.toml`.

mod precision;

pub use precision::{ModelVariant, NoVariant, Precision};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The manifest's file name inside a models directory.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// The manifest schema this code reads.
pub const SCHEMA: u32 = 1;

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelRole {
    /// A face restorer with the GFPGAN I/O contract.
    Restorer,
    /// MTCNN stage 1 (proposal net, fully convolutional).
    MtcnnPnet,
    /// MTCNN stage 2 (refinement net, 24x24 crops).
    MtcnnRnet,
    /// MTCNN stage 3 (output net, 48x48 crops, landmarks).
    MtcnnOnet,
    /// RetinaFace: one pass over the whole image, boxes and landmarks (optional: only
    /// a worker started with `--detector retinaface` loads it).
    #[serde(rename = "retinaface")]
    RetinaFace,
}

/// Tensor layout of the image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Batch, channels, height, width (restorers).
    #[serde(rename = "NCHW")]
    Nchw,
    /// Batch, width, height, channels: MTCNN's Keras export has the spatial axes swapped.
    #[serde(rename = "NWHC")]
    Nwhc,
}

/// How 8-bit pixels become the model's floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalisation {
    /// `x / 255 * 2 - 1`, i.e. `(x/255 - 0.5) / 0.5` (GFPGAN contract); outputs the same.
    MinusOneToOne,
    /// `x / 255` (Real-ESRGAN); outputs the same.
    ZeroToOne,
    /// `(x - 127.5) * 0.0078125` (MTCNN).
    Mtcnn,
    /// `x - mean` per channel, B, G, R = 104, 117, 123 (RetinaFace's training config).
    RetinafaceMeans,
}

/// Channel order of the image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channels {
    #[serde(rename = "RGB")]
    Rgb,
    /// RetinaFace (trained on OpenCV's BGR).
    #[serde(rename = "BGR")]
    Bgr,
}

/// One `[[model]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub role: ModelRole,
    /// The restorer used when a job names none.
    #[serde(default)]
    pub default: bool,
    /// Not listed to clients (benchmark-only models); still usable by name.
    #[serde(default)]
    pub hidden: bool,
    pub description: String,
    /// Relative to the models directory.
    pub file: PathBuf,
    /// Lowercase hex; empty when upstream publishes none (see `sha256_note`).
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub sha256_note: Option<String>,
    /// Download URL (production models, `models/fetch.sh`).
    #[serde(default)]
    pub url: Option<String>,
    /// How a locally built or extracted file is made.
    #[serde(default)]
    pub source: Option<String>,
    pub licence: String,
    /// Every input of the graph, the image input first.
    pub inputs: Vec<String>,
    /// The input fed the fidelity weight, if the model takes one.
    #[serde(default)]
    pub fidelity_input: Option<String>,
    /// Side of the square input; 0 = any (PNet).
    pub size: u32,
    pub layout: Layout,
    pub channels: Channels,
    pub normalisation: Normalisation,
    /// Most faces (or crops) per session run.
    pub max_batch: u32,
    /// Restorers that enlarge (Real-ESRGAN): the graph takes any H×W and returns
    /// `scale`·H × `scale`·W. A face is fed at an input size chosen from its size in the
    /// source and the output is resized to `size` (see `docs/pipeline.md`).
    #[serde(default)]
    pub scale: Option<u32>,
    /// The `bg_upsampler` option value under which this model also enlarges whole images
    /// (only for a model with `scale`).
    #[serde(default)]
    pub bg_upsampler: Option<String>,
    /// The float16 variant loaded under `--precision fp16` (restorers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16: Option<ModelVariant>,
}

impl ModelEntry {
    /// The image input's name.
    pub fn image_input(&self) -> &str {
        self.inputs.first().map(String::as_str).unwrap_or("input")
    }

    /// Whether the model takes a fidelity weight.
    pub fn takes_fidelity(&self) -> bool {
        self.fidelity_input.is_some()
    }

    /// The pinned sha256, if any: the manifest's, else none (see [`pinned_sha256`]).
    pub fn manifest_sha256(&self) -> Option<&str> {
        (!self.sha256.is_empty()).then_some(self.sha256.as_str())
    }

    /// The model file inside `models_dir`.
    pub fn path_in(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(&self.file)
    }

    /// How clients see this model.
    pub fn info(&self) -> ModelInfo {
        ModelInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            licence: self.licence.clone(),
            fidelity: self.takes_fidelity(),
            default: self.default,
        }
    }
}

/// A restorer as clients see it (`GET /v1/models`): what the API lists from the manifest
/// and what a worker reports of the restorers it loaded. One type for both, so the
/// listing cannot drift between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
// The published OpenAPI document has named this schema `ModelEntry` from the start.
#[schema(as = ModelEntry)]
pub struct ModelInfo {
    pub name: String,
    /// One line for people choosing a model.
    pub description: String,
    pub licence: String,
    /// Whether the model takes the `fidelity` option.
    pub fidelity: bool,
    /// The model used when a job names none.
    pub default: bool,
}

/// What a deployment offers clients (`GET /v1/models`): restorers and background
/// upsamplers. Empty lists mean "unknown here: pass any name on to the workers".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    pub models: Vec<ModelInfo>,
    pub upsamplers: Vec<UpsamplerInfo>,
}

/// The background upsampler's default input limit (width × height) where it runs on
/// CPU: about a minute of two cores (Real-ESRGAN x4plus costs ~35 MFLOP per input pixel).
pub const BG_UPSAMPLER_CPU_MAX_PIXELS: u64 = 102_400;
/// The same on CUDA: a 4K frame.
pub const BG_UPSAMPLER_CUDA_MAX_PIXELS: u64 = 8_294_400;

/// The background upsampler's default input limit for a worker on CUDA or not.
pub fn bg_upsampler_default_max_pixels(cuda: bool) -> u64 {
    if cuda {
        BG_UPSAMPLER_CUDA_MAX_PIXELS
    } else {
        BG_UPSAMPLER_CPU_MAX_PIXELS
    }
}

/// A background upsampler as clients see it (`GET /v1/models`): what the `bg_upsampler`
/// option takes, and up to what size this deployment accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpsamplerInfo {
    /// The `bg_upsampler` option value.
    pub name: String,
    /// The model behind it.
    pub model: String,
    pub description: String,
    pub licence: String,
    /// The largest input (width × height, before upscale) accepted with it; larger
    /// images are refused with `upsampler-too-large`. The network is slow on CPU, so
    /// deployments without CUDA keep this small.
    pub max_pixels: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    schema: u32,
    #[serde(default, rename = "model")]
    models: Vec<ModelEntry>,
}

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The parsed, validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    pub models: Vec<ModelEntry>,
}

impl Manifest {
    /// Reads `<models_dir>/manifest.toml`.
    pub fn load_dir(models_dir: &Path) -> Result<Self, ManifestError> {
        Self::load(&models_dir.join(MANIFEST_FILE))
    }

    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let file: ManifestFile = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let manifest = Self {
            path: path.to_path_buf(),
            models: file.models,
        };
        if file.schema != SCHEMA {
            return Err(manifest.invalid(format!(
                "schema {} is not supported (this build reads schema {SCHEMA})",
                file.schema
            )));
        }
        manifest.validate()?;
        Ok(manifest)
    }

    fn invalid(&self, message: String) -> ManifestError {
        ManifestError::Invalid {
            path: self.path.clone(),
            message,
        }
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let mut names = HashSet::new();
        for m in &self.models {
            let bad = |what: &str| self.invalid(format!("model {:?}: {what}", m.name));
            if m.name.is_empty() || !m.name.chars().all(valid_name_char) {
                return Err(bad("the name must be non-empty [a-z0-9._-]"));
            }
            if !names.insert(m.name.as_str()) {
                return Err(bad("the name appears twice"));
            }
            if !m.sha256.is_empty() && !is_sha256_hex(&m.sha256) {
                return Err(bad("sha256 must be 64 lowercase hex digits or empty"));
            }
            if m.file.is_absolute() || m.file.components().any(|c| c.as_os_str() == "..") {
                return Err(bad(
                    "file must be a relative path inside the models directory",
                ));
            }
            if m.inputs.is_empty() {
                return Err(bad("inputs must name at least the image input"));
            }
            if let Some(f) = &m.fidelity_input
                && !m.inputs.contains(f)
            {
                return Err(bad("fidelity_input must be one of inputs"));
            }
            if m.max_batch == 0 {
                return Err(bad("max_batch must be at least 1"));
            }
            let restorer = m.role == ModelRole::Restorer;
            if m.default && !restorer {
                return Err(bad("only a restorer can be the default"));
            }
            let normalisation = match m.scale {
                None => Normalisation::MinusOneToOne,
                Some(_) => Normalisation::ZeroToOne,
            };
            if restorer
                && (m.size < 8 || m.layout != Layout::Nchw || m.normalisation != normalisation)
            {
                return Err(bad(
                    "a restorer needs size >= 8, layout NCHW, normalisation minus-one-to-one \
                     (zero-to-one with scale)",
                ));
            }
            if m.scale.is_some_and(|k| !(2..=8).contains(&k)) || (m.scale.is_some() && !restorer) {
                return Err(bad("scale is 2-8 and only for restorers"));
            }
            if m.bg_upsampler.is_some() && m.scale.is_none() {
                return Err(bad("bg_upsampler needs a model with scale"));
            }
            if !restorer && m.fidelity_input.is_some() {
                return Err(bad("only restorers take a fidelity input"));
            }
            if let Some(problem) = m.variant_problem() {
                return Err(bad(problem));
            }
        }
        if !self.restorers_all().any(|m| m.default) {
            return Err(self.invalid("at least one restorer must have default = true".to_string()));
        }
        let mut upsamplers = HashSet::new();
        for name in self.models.iter().filter_map(|m| m.bg_upsampler.as_deref()) {
            if !upsamplers.insert(name) {
                return Err(self.invalid(format!("bg_upsampler {name:?} appears twice")));
            }
        }
        for role in [
            ModelRole::MtcnnPnet,
            ModelRole::MtcnnRnet,
            ModelRole::MtcnnOnet,
        ] {
            let n = self.models.iter().filter(|m| m.role == role).count();
            if n != 1 {
                return Err(self.invalid(format!("need exactly one {role:?} model, found {n}")));
            }
        }
        let retinafaces = self
            .models
            .iter()
            .filter(|m| m.role == ModelRole::RetinaFace);
        if retinafaces.count() > 1 {
            return Err(self.invalid("at most one retinaface model".to_string()));
        }
        Ok(())
    }

    /// A model by name.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// A restorer by name (hidden ones included).
    pub fn restorer(&self, name: &str) -> Option<&ModelEntry> {
        self.get(name).filter(|m| m.role == ModelRole::Restorer)
    }

    /// The default restorer in `models_dir`: the first `default = true` restorer whose
    /// file is there (a learned model that setup installed leads; the built one stands in
    /// where it is missing), else the first `default = true` one.
    pub fn default_restorer_in(&self, models_dir: &Path) -> &ModelEntry {
        let defaults: Vec<&ModelEntry> = self.restorers_all().filter(|m| m.default).collect();
        defaults
            .iter()
            .find(|m| m.path_in(models_dir).is_file())
            .or(defaults.first())
            .copied()
            // `validate` guarantees one; the fallback only keeps this total.
            .unwrap_or(&self.models[0])
    }

    /// Restorers clients may see, the default in `models_dir` first.
    pub fn listed_restorers(&self, models_dir: &Path) -> Vec<&ModelEntry> {
        let default = self.default_restorer_in(models_dir).name.as_str();
        let mut v: Vec<&ModelEntry> = self.restorers_all().filter(|m| !m.hidden).collect();
        v.sort_by_key(|m| m.name != default);
        v
    }

    /// The restorers clients may see, as they see them, the default in `models_dir` first
    /// (and the only one marked default).
    pub fn listing(&self, models_dir: &Path) -> Vec<ModelInfo> {
        let default = self.default_restorer_in(models_dir).name.clone();
        self.listed_restorers(models_dir)
            .into_iter()
            .map(|m| ModelInfo {
                default: m.name == default,
                ..m.info()
            })
            .collect()
    }

    /// The background upsamplers the manifest describes, each with `max_pixels`.
    pub fn upsampler_listing(&self, max_pixels: u64) -> Vec<UpsamplerInfo> {
        self.models
            .iter()
            .filter_map(|m| {
                Some(UpsamplerInfo {
                    name: m.bg_upsampler.clone()?,
                    model: m.name.clone(),
                    description: m.description.clone(),
                    licence: m.licence.clone(),
                    max_pixels,
                })
            })
            .collect()
    }

    /// The model serving a `bg_upsampler` option value.
    pub fn bg_upsampler(&self, option: &str) -> Option<&ModelEntry> {
        self.models
            .iter()
            .find(|m| m.bg_upsampler.as_deref() == Some(option))
    }

    /// The detector model of a role (the MTCNN nets are validated to exist; the
    /// RetinaFace entry is optional).
    pub fn detector(&self, role: ModelRole) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.role == role)
    }

    fn restorers_all(&self) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter().filter(|m| m.role == ModelRole::Restorer)
    }
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// The sha256 pinned next to a fetched file (`FILE.sha256`, written by `models/fetch.sh`
/// on first fetch when the manifest has none), if present and well-formed.
pub fn pinned_sha256(model_path: &Path) -> Option<String> {
    let mut pin = model_path.as_os_str().to_owned();
    pin.push(".sha256");
    let text = std::fs::read_to_string(PathBuf::from(pin)).ok()?;
    let hex = text.split_whitespace().next()?.to_ascii_lowercase();
    is_sha256_hex(&hex).then_some(hex)
}

/// Finds the models directory: `explicit` if given; else the first of `./models`, then
/// `models` next to or above the running executable (a `target/{debug,release}` build
/// inside the checkout), then `/opt/facefix/models` (the images), that holds a manifest.
pub fn locate_models_dir(explicit: Option<&Path>) -> Result<PathBuf, ManifestError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("models")];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(4).map(|d| d.join("models")));
    }
    candidates.push(PathBuf::from("/opt/facefix/models"));
    candidates
        .iter()
        .find(|d| d.join(MANIFEST_FILE).is_file())
        .cloned()
        .ok_or_else(|| ManifestError::Read {
            path: PathBuf::from("models").join(MANIFEST_FILE),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "no models directory with a {MANIFEST_FILE} found (looked in {}); \
                     pass --models-dir / FACEFIX_MODELS_DIR, or run scripts/setup-models.sh \
                     in the checkout",
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn repo_manifest() -> Manifest {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml");
        Manifest::load(&path).expect("the repository's manifest parses")
    }

    /// A models directory holding only the files named.
    fn models_dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, b"onnx").expect("write");
        }
        dir
    }

    #[test]
    fn the_learned_default_leads_where_its_file_is() {
        let m = repo_manifest();
        let both = models_dir_with(&["realesrgan/realesrgan_x4plus.onnx", "facefix_usm_512.onnx"]);
        assert_eq!(m.default_restorer_in(both.path()).name, "realesrgan-x4plus");
        let built_only = models_dir_with(&["facefix_usm_512.onnx"]);
        assert_eq!(
            m.default_restorer_in(built_only.path()).name,
            "facefix-usm-512"
        );
        let listing = m.listing(built_only.path());
        assert_eq!(listing[0].name, "facefix-usm-512");
        assert_eq!(listing.iter().filter(|i| i.default).count(), 1);
        let learned = m.restorer("realesrgan-x4plus").expect("listed");
        assert_eq!(learned.scale, Some(4));
        assert_eq!(learned.normalisation, Normalisation::ZeroToOne);
        assert_eq!(
            m.bg_upsampler("realesrgan").map(|e| e.name.as_str()),
            Some("realesrgan-x4plus")
        );
        assert!(m.bg_upsampler("lanczos").is_none());
    }

    #[test]
    fn repository_manifest_is_valid() {
        let m = repo_manifest();
        let dir = models_dir_with(&["facefix_usm_512.onnx"]);
        assert_eq!(m.default_restorer_in(dir.path()).name, "facefix-usm-512");
        let listed: Vec<_> = m
            .listed_restorers(dir.path())
            .iter()
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(listed[0], "facefix-usm-512");
        for name in [
            "gfpgan-1.4",
            "gpen-bfr-512",
            "codeformer",
            "restoreformer-plus-plus",
        ] {
            assert!(listed.iter().any(|n| n == name), "{name} listed");
        }
        assert!(!listed.iter().any(|n| n == "synthetic-gfpgan-cost"));
        assert!(m.restorer("synthetic-gfpgan-cost").is_some());
        assert!(m.restorer("mtcnn-pnet").is_none());
        let cf = m.restorer("codeformer").expect("codeformer");
        assert_eq!(cf.fidelity_input.as_deref(), Some("weight"));
        assert!(cf.takes_fidelity());
        let pnet = m.detector(ModelRole::MtcnnPnet).expect("pnet");
        assert_eq!(pnet.layout, Layout::Nwhc);
        assert_eq!(pnet.image_input(), "input_1");
        let retina = m.detector(ModelRole::RetinaFace).expect("retinaface");
        assert_eq!(
            (retina.layout, retina.channels, retina.normalisation),
            (Layout::Nchw, Channels::Bgr, Normalisation::RetinafaceMeans)
        );
        assert!(m.restorer(&retina.name).is_none());
    }

    #[test]
    fn clients_see_the_listed_restorers_with_the_default_first() {
        let dir = models_dir_with(&["facefix_usm_512.onnx"]);
        let listing = repo_manifest().listing(dir.path());
        assert_eq!(listing[0].name, "facefix-usm-512");
        assert!(listing[0].default);
        assert_eq!(listing.iter().filter(|m| m.default).count(), 1);
        let cf = listing
            .iter()
            .find(|m| m.name == "codeformer")
            .expect("codeformer");
        assert!(cf.fidelity && !cf.default);
        assert!(!listing.iter().any(|m| m.name == "synthetic-gfpgan-cost"));
    }

    const MINIMAL: &str = r#"
schema = 1
[[model]]
name = "r"
role = "restorer"
default = true
description = "d"
file = "r.onnx"
licence = "x"
inputs = ["input"]
size = 512
layout = "NCHW"
channels = "RGB"
normalisation = "minus-one-to-one"
max_batch = 4
"#;

    pub(crate) fn with_detectors(extra: &str) -> String {
        let mut s = String::from(MINIMAL);
        for (i, role) in ["mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"]
            .iter()
            .enumerate()
        {
            s.push_str(&format!(
                "[[model]]\nname = \"{role}\"\nrole = \"{role}\"\ndescription = \"d\"\n\
                 file = \"mtcnn/{i}.onnx\"\nlicence = \"MIT\"\ninputs = [\"input_{i}\"]\n\
                 size = 0\nlayout = \"NWHC\"\nchannels = \"RGB\"\nnormalisation = \"mtcnn\"\n\
                 max_batch = 1\n"
            ));
        }
        s.push_str(extra);
        s
    }

    #[test]
    fn minimal_manifest_parses() {
        let m = Manifest::parse(&with_detectors(""), Path::new("m.toml")).expect("valid");
        assert_eq!(m.models.len(), 4);
        let dir = models_dir_with(&[]);
        assert!(
            m.default_restorer_in(dir.path())
                .manifest_sha256()
                .is_none()
        );
    }

    #[test]
    fn rejects_bad_manifests() {
        let cases = [
            (MINIMAL.to_string(), "MtcnnPnet"),
            (
                with_detectors("").replace("schema = 1", "schema = 2"),
                "schema 2",
            ),
            (
                with_detectors("").replace("default = true", ""),
                "at least one restorer",
            ),
            (
                with_detectors("").replace("max_batch = 4", "max_batch = 4\nscale = 4"),
                "zero-to-one with scale",
            ),
            (
                with_detectors("").replace("max_batch = 4", "max_batch = 4\nbg_upsampler = \"x\""),
                "bg_upsampler needs",
            ),
            (
                with_detectors("")
                    .replace("max_batch = 4", "max_batch = 4\nscale = 1")
                    .replace("minus-one-to-one", "zero-to-one"),
                "scale is 2-8",
            ),
            (
                with_detectors("").replace("r.onnx", "../r.onnx"),
                "relative path",
            ),
            (
                with_detectors("").replace("max_batch = 4", "max_batch = 0"),
                "max_batch",
            ),
            (
                with_detectors("").replace("licence = \"x\"", "licence = \"x\"\nsha256 = \"abc\""),
                "sha256",
            ),
            (
                with_detectors("").replace(
                    "inputs = [\"input\"]",
                    "inputs = [\"input\"]\nfidelity_input = \"w\"",
                ),
                "fidelity_input",
            ),
            (
                with_detectors("").replace("size = 512", "size = 512\nbogus = 1"),
                "bogus",
            ),
        ];
        let retinaface = |i: u32| {
            format!(
                "[[model]]\nname = \"rf{i}\"\nrole = \"retinaface\"\ndescription = \"d\"\n\
                 file = \"rf{i}.onnx\"\nlicence = \"MIT\"\ninputs = [\"input\"]\nsize = 0\n\
                 layout = \"NCHW\"\nchannels = \"BGR\"\nnormalisation = \"retinaface-means\"\n\
                 max_batch = 1\n"
            )
        };
        let one = with_detectors(&retinaface(1));
        assert!(
            Manifest::parse(&one, Path::new("m.toml")).is_ok(),
            "one retinaface"
        );
        let cases = cases.into_iter().chain([(
            with_detectors(&format!("{}{}", retinaface(1), retinaface(2))),
            "at most one retinaface",
        )]);
        for (text, want) in cases {
            let err = Manifest::parse(&text, Path::new("m.toml")).expect_err(want);
            assert!(
                err.to_string().contains(want),
                "{err} should mention {want}"
            );
        }
    }

    #[test]
    fn reads_pins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = dir.path().join("m.onnx");
        assert_eq!(pinned_sha256(&model), None);
        let hex = "ab".repeat(32);
        std::fs::write(dir.path().join("m.onnx.sha256"), format!("{hex}  m.onnx\n"))
            .expect("write");
        assert_eq!(pinned_sha256(&model), Some(hex));
        std::fs::write(dir.path().join("m.onnx.sha256"), "nonsense\n").expect("write");
        assert_eq!(pinned_sha256(&model), None);
    }

    #[test]
    fn explicit_models_dir_wins() {
        let p = locate_models_dir(Some(Path::new("/x/y"))).expect("explicit");
        assert_eq!(p, PathBuf::from("/x/y"));
    }
}
