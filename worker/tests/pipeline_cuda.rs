//! The restorer on the CUDA execution provider, when a GPU is present (`nvidia-smi`
//! works); skipped with the reason printed otherwise. GPU workers load the
//! onnxruntime-gpu library (FACEFIX_ORT_DYLIB); with the CPU wheel's library `--device
//! cuda` must fail loudly instead of silently running on CPU.

mod pipeline_support;

use bytes::Bytes;
use clap::Parser;
use facefix_worker::pipeline::inference::runtime::{
    self, ActiveDevice, CudaTuning, Device, SessionOptions,
};
use facefix_worker::pipeline::{FacePipeline, ModelArgs, NoStageObserver, Request};
use pipeline_support::{models_dir, read_image, test_restorer};
use std::process::Command;
use std::sync::Arc;

/// Model flags parsed like `facefix restore` parses them, so `FACEFIX_ORT_DYLIB` and the
/// other `FACEFIX_*` variables apply.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    model: ModelArgs,
}

fn gpu_present() -> Result<String, String> {
    match Command::new("nvidia-smi").arg("-L").output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(format!(
            "nvidia-smi failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("nvidia-smi not runnable: {e}")),
    }
}

#[test]
fn restores_on_cuda_when_a_gpu_is_present() {
    let gpu = match gpu_present() {
        Ok(g) => g,
        Err(why) => {
            println!("skipped: no GPU ({why})");
            return;
        }
    };
    println!("GPU: {gpu}");
    let argv = [
        "restore".to_string(),
        "--device".into(),
        "cuda".into(),
        "--models-dir".into(),
        models_dir().display().to_string(),
        "--restorer".into(),
        test_restorer("restorer_asym_512_dyn.onnx")
            .display()
            .to_string(),
    ];
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("arguments: {e}"));
    let hint = "is FACEFIX_ORT_DYLIB the onnxruntime-gpu library?";
    let pipeline = FacePipeline::load(&cli.model)
        .unwrap_or_else(|e| panic!("loading the models on CUDA failed ({hint}): {e}"));
    let restored = pipeline_support::rt()
        .block_on(pipeline.run(
            Bytes::from(read_image("collage_4faces.png")),
            &Request::default(),
            Arc::new(NoStageObserver),
        ))
        .unwrap_or_else(|e| panic!("restore on CUDA failed ({hint}): {e}"));
    assert_eq!(pipeline.engine().device, ActiveDevice::Cuda);
    assert_eq!(restored.num_restored, 4);
}

#[test]
fn device_cuda_fails_loudly_without_a_cuda_provider() {
    let env = runtime::environment(None).unwrap_or_else(|e| panic!("{e}"));
    let cuda_compiled = matches!(
        <ort::ep::CUDA as ort::ep::ExecutionProvider>::is_available(),
        Ok(true)
    );
    if cuda_compiled && gpu_present().is_ok() {
        println!("skipped: this library has CUDA and a GPU is present");
        return;
    }
    let opts = SessionOptions {
        device: Device::Cuda,
        cuda_device_id: 0,
        intra_threads: 1,
        cuda: CudaTuning::default(),
        ..SessionOptions::default()
    };
    let path = test_restorer("restorer_identity_512.onnx");
    let Err(err) = runtime::build_session(&env, &path, &opts) else {
        panic!("--device cuda must fail without a CUDA provider");
    };
    assert!(err.to_string().contains("--device cuda"), "{err}");
    let auto = SessionOptions {
        device: Device::Auto,
        ..opts
    };
    let (_, dev) =
        runtime::build_session(&env, &path, &auto).unwrap_or_else(|e| panic!("auto: {e}"));
    assert_eq!(dev, ActiveDevice::Cpu, "auto falls back to CPU");
}
