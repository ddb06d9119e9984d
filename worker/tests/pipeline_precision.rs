//! `--precision fp16`: the restorers' float16 variants (models/convert_fp16.py, made by
//! scripts/setup-models.sh) give what the float32 graphs give, within 40 dB PSNR on
//! real face photos; and `--device tensorrt` fails at start on the CPU library.
//!
//! Real-ESRGAN costs ~35 MFLOP per input pixel on CPU, so its inputs are tiny.

mod cv_support;
mod pipeline_support;

use cv_support::psnr_u8;
use facefix_shared::models::{Manifest, Precision};
use facefix_worker::pipeline::inference::runtime::{self, ActiveDevice, Device};
use facefix_worker::pipeline::inference::tensorrt;
use facefix_worker::pipeline::restore::{BatchPolicy, Restorer, RestorerSource, tensor};
use facefix_worker::pipeline::{Engine, ModelArgs};
use image::RgbImage;
use image::imageops::{FilterType, resize};
use pipeline_support::{SETUP_HINT, decode_rgb, model_args, models_dir, rt};
use std::sync::Arc;
use std::time::Duration;

/// The least PSNR (dB) between the fp16 and fp32 outputs.
const MIN_PSNR_DB: f64 = 40.0;

/// Face photos of the test set, each as the restorer's input square of `side`.
fn faces(side: u32) -> Vec<(String, RgbImage)> {
    ["grace_hopper.jpg", "astronaut.png", "tiny_face_64x75.png"]
        .iter()
        .map(|name| {
            let img = decode_rgb(name);
            (
                name.to_string(),
                resize(&img, side, side, FilterType::Triangle),
            )
        })
        .collect()
}

/// Restores `crops` with the model at `precision` (CPU) and returns the 8-bit images.
fn restore(model: &str, precision: Precision, crops: &[RgbImage]) -> Vec<RgbImage> {
    let manifest = Manifest::load_dir(&models_dir()).expect("manifest");
    let entry = manifest.restorer(model).expect("in the manifest");
    let env = runtime::environment(None).expect("ONNX Runtime");
    let args = ModelArgs {
        precision,
        ..model_args(None)
    };
    let restorer = Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Manifest(entry),
        &args.session_options(),
        1,
        None,
        BatchPolicy {
            max_batch: 1,
            max_wait: Duration::ZERO,
            upstream: Arc::default(),
        },
    )
    .unwrap_or_else(|e| panic!("loading {model} at {precision:?}: {e} ({SETUP_HINT})"));
    assert_eq!(restorer.precision(), precision);
    let norm = entry.normalisation;
    let out = rt()
        .block_on(restorer.run(tensor::preprocess(crops, norm), None))
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    tensor::postprocess(&out, norm)
}

/// PSNR of fp16 against fp32 for each crop, printed, and asserted.
fn assert_close(model: &str, crops: &[(String, RgbImage)]) {
    let images: Vec<RgbImage> = crops.iter().map(|(_, c)| c.clone()).collect();
    let full = restore(model, Precision::Fp32, &images);
    let half = restore(model, Precision::Fp16, &images);
    assert_eq!(full.len(), crops.len());
    for ((name, _), (a, b)) in crops.iter().zip(full.iter().zip(&half)) {
        assert_eq!(a.dimensions(), b.dimensions());
        let db = psnr_u8(a.as_raw(), b.as_raw());
        println!(
            "{model} {name} {}x{}: fp16 vs fp32 PSNR {db:.1} dB",
            a.width(),
            a.height()
        );
        assert!(
            db >= MIN_PSNR_DB,
            "{model} on {name}: {db:.1} dB < {MIN_PSNR_DB}"
        );
    }
}

#[test]
fn unsharp_mask_in_fp16_matches_fp32() {
    assert_close("facefix-usm-512", &faces(512));
}

#[test]
fn realesrgan_in_fp16_matches_fp32_on_small_faces() {
    // One face at a time: the graph takes any size, 32x32 in, 128x128 out.
    for face in faces(32) {
        assert_close("realesrgan-x4plus", &[face]);
    }
}

#[test]
fn device_tensorrt_fails_at_start_without_the_provider() {
    runtime::environment(None).expect("ONNX Runtime");
    assert!(
        !tensorrt::available(),
        "the tests load the CPU wheel's ONNX Runtime, which has no TensorRT provider"
    );
    let args = ModelArgs {
        device: Device::TensorRt,
        restorer: Some("facefix-usm-512".into()),
        ..model_args(None)
    };
    let Err(err) = Engine::load(&args) else {
        panic!("--device tensorrt started without a TensorRT provider");
    };
    let text = err.to_string();
    assert!(text.contains("--device tensorrt"), "{text}");
    assert!(text.contains("no TensorRT execution provider"), "{text}");
    // `auto` never tries TensorRT: on this library it is the CPU.
    let auto = ModelArgs {
        device: Device::Auto,
        restorer: Some("facefix-usm-512".into()),
        ..model_args(None)
    };
    let engine = Engine::load(&auto).unwrap_or_else(|e| panic!("auto: {e}"));
    assert_eq!(engine.device, ActiveDevice::Cpu);
}
