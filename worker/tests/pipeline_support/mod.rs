//! Shared helpers of the pipeline and parity tests: paths to the repository's models,
//! the test restorers, the test images of `testdata/`, and one engine per test binary.
//!
//! The tests need what `scripts/setup-models.sh` prepares (the venv with ONNX Runtime,
//! the MTCNN nets, the test restorers); when it is missing they fail saying so.

#![allow(dead_code)]

use facefix_shared::intake::ImageLimits;
use facefix_worker::pipeline::detect::DetectorKind;
use facefix_worker::pipeline::inference::runtime::Device;
use facefix_worker::pipeline::{Engine, ModelArgs};
use facefix_worker::pipeline::{FacePipeline, Limits};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub const SETUP_HINT: &str = "run `bash scripts/setup-models.sh` from the repository root first";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn models_dir() -> PathBuf {
    repo().join("models")
}

/// A test restorer built by setup-models.sh (tools/reference/make_test_restorers.py).
pub fn test_restorer(file: &str) -> PathBuf {
    let p = models_dir().join("test").join(file);
    assert!(
        p.is_file(),
        "missing test restorer {}: {SETUP_HINT}",
        p.display()
    );
    p
}

/// The repository's `testdata/`, with its generated files: the tests that list a folder
/// would otherwise run on fewer files than they mean to.
pub fn testdata() -> PathBuf {
    let p = repo().join("testdata");
    let pins = std::fs::read_to_string(p.join("generated.sha256"))
        .unwrap_or_else(|e| panic!("{}/generated.sha256: {e}", p.display()));
    for name in pins.lines().filter_map(|l| l.split_whitespace().nth(1)) {
        assert!(
            p.join(name).is_file(),
            "missing testdata/{name}: run `bash scripts/setup-testdata.sh` first"
        );
    }
    p
}

pub fn image_path(name: &str) -> PathBuf {
    testdata().join("images").join(name)
}

pub fn read_image(name: &str) -> Vec<u8> {
    std::fs::read(image_path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// The reference's Python (the project venv).
pub fn venv_python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(p.is_file(), "missing {}: {SETUP_HINT}", p.display());
    p
}

/// Model arguments for tests: CPU, the repository's models, a given default restorer.
pub fn model_args(restorer: Option<&Path>) -> ModelArgs {
    assert!(
        models_dir().join("mtcnn/pnet.onnx").is_file(),
        "missing MTCNN nets: {SETUP_HINT}"
    );
    ModelArgs {
        models_dir: Some(models_dir()),
        restorer: restorer.map(|p| p.display().to_string()),
        device: Device::Cpu,
        intra_threads: 2,
        // The reference detects at full resolution, and these engines are its parity
        // oracle's counterpart; the working resolution (default 1600) is tested on its
        // own (`pipeline_detect.rs`, `detect_retinaface.rs`: same faces, within 2 px).
        detect_max_side: 0,
        ..ModelArgs::default()
    }
}

fn load(args: &ModelArgs) -> Arc<Engine> {
    match Engine::load(args) {
        Ok(e) => Arc::new(e),
        Err(e) => panic!("loading the models failed: {e} ({SETUP_HINT})"),
    }
}

/// One engine per test binary with the `asym` restorer (the parity restorer).
pub fn asym_engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| load(&model_args(Some(&test_restorer("restorer_asym_512.onnx")))))
        .clone()
}

/// One engine per test binary with the `asym` restorer and RetinaFace as the detector.
pub fn retinaface_engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| {
        assert!(
            models_dir()
                .join("retinaface/retinaface_mnet025.onnx")
                .is_file(),
            "missing the RetinaFace model: {SETUP_HINT}"
        );
        load(&ModelArgs {
            detector: DetectorKind::RetinaFace,
            ..model_args(Some(&test_restorer("restorer_asym_512.onnx")))
        })
    })
    .clone()
}

/// A pipeline over the shared asym engine.
pub fn asym_pipeline() -> FacePipeline {
    pipeline_over(asym_engine())
}

/// A pipeline over the shared asym engine with RetinaFace.
pub fn retinaface_pipeline() -> FacePipeline {
    pipeline_over(retinaface_engine())
}

fn pipeline_over(engine: Arc<Engine>) -> FacePipeline {
    FacePipeline::new(
        engine,
        Limits {
            decode: ImageLimits::default(),
            max_output_pixels:
                facefix_worker::pipeline::inference::model_args::DEFAULT_MAX_OUTPUT_PIXELS,
            quality: 95,
        },
    )
}

/// Decodes a test image to upright RGB with the pipeline's decoder.
pub fn decode_rgb(name: &str) -> image::RgbImage {
    facefix_worker::pipeline::stages::decode(&read_image(name), &ImageLimits::default())
        .unwrap_or_else(|e| panic!("decode {name}: {e}"))
        .rgb
}

/// A tokio runtime for async pipeline calls in plain #[test]s.
pub fn rt() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

/// The pixels the reference sees for a test image: JPEGs are decoded by OpenCV
/// (libjpeg-turbo, the reference's decoder, EXIF orientation applied) through the venv's
/// Python and handed over losslessly as PNG, so stage tests of the detector do not depend
/// on JPEG decoder differences (those are the decode stage's and the parity test's).
pub fn reference_rgb(name: &str) -> image::RgbImage {
    if !name.ends_with(".jpg") {
        return decode_rgb(name);
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let png = dir.path().join("ref.png");
    let status = std::process::Command::new(venv_python())
        .args([
            "-c",
            "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]))",
        ])
        .arg(image_path(name))
        .arg(&png)
        .status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "OpenCV decode of {name} failed: {status:?}"
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    facefix_worker::pipeline::stages::decode(&bytes, &ImageLimits::default())
        .unwrap_or_else(|e| panic!("decode {name}: {e}"))
        .rgb
}
