//! Restorer throughput in faces per second at batch 1 and batch 8 (and 8 faces sent as 8
//! separate jobs, batched across jobs by the session thread).
//!
//! Meant for a GPU with a model of GFPGAN's cost:
//!   python3 models/build_synthetic_gfpgan_cost.py --out models/bench/synthetic_gfpgan_cost_512.onnx
//!   FACEFIX_DEVICE=cuda FACEFIX_ORT_DYLIB=/path/to/onnxruntime-gpu/libonnxruntime.so.1.31.1 \
//!     cargo bench -p facefix-benches --bench batch_throughput
//! Environment: FACEFIX_BENCH_MODEL (manifest name or .onnx path; default
//! synthetic-gfpgan-cost if built, else facefix-usm-512), FACEFIX_BENCH_FACES
//! (faces per measurement, default 64), and every model variable of the worker, parsed
//! by the worker's own `ModelArgs` (FACEFIX_DEVICE, default auto; FACEFIX_CUDA_DEVICE,
//! FACEFIX_CUDA_CONV_SEARCH, FACEFIX_CUDA_NHWC, FACEFIX_ORT_DYLIB, FACEFIX_INTRA_THREADS,
//! FACEFIX_MODELS_DIR, ...), so a setting measured here is the setting a worker runs.

use clap::Parser;
use facefix_shared::models::Manifest;
use facefix_worker::pipeline::ModelArgs;
use facefix_worker::pipeline::inference::runtime;
use facefix_worker::pipeline::inference::session::TensorF32;
use facefix_worker::pipeline::restore::{BatchPolicy, Restorer, RestorerSource, tensor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("batch_throughput: {what}: {e}");
    std::process::exit(1)
}

/// The worker's model flags, taken from the environment only: `cargo bench` passes
/// `--bench` on the command line, which is not ours.
#[derive(Parser)]
struct WorkerEnv {
    #[command(flatten)]
    model: ModelArgs,
}

fn main() {
    let args = WorkerEnv::try_parse_from(["batch_throughput"])
        .unwrap_or_else(|e| fail("FACEFIX_* model settings", e))
        .model;
    let models_dir = args
        .models_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let manifest = Manifest::load_dir(&models_dir).unwrap_or_else(|e| fail("manifest", e));
    let faces: usize = std::env::var("FACEFIX_BENCH_FACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let synthetic = manifest
        .restorer("synthetic-gfpgan-cost")
        .filter(|m| m.path_in(&models_dir).is_file());
    let model = std::env::var("FACEFIX_BENCH_MODEL")
        .ok()
        .or_else(|| synthetic.map(|m| m.name.clone()))
        .unwrap_or_else(|| "facefix-usm-512".to_string());
    let env =
        runtime::environment(args.ort_dylib.as_deref()).unwrap_or_else(|e| fail("ONNX Runtime", e));
    let opts = args.session_options();
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| fail("tokio", e));
    println!(
        "model {model}, {faces} faces per measurement, CUDA tuning {:?}",
        opts.cuda
    );
    println!(
        "{:<28} {:>10} {:>12} {:>8}",
        "mode", "seconds", "faces/s", "device"
    );
    let mut results = Vec::new();
    for (label, cap, per_job) in [
        ("batch 1", 1, faces),
        ("batch 8", 8, faces),
        ("batch 8, 1 face per job", 8, 1),
    ] {
        let upstream = Arc::new(AtomicUsize::new(usize::from(per_job == 1)));
        let policy = BatchPolicy {
            max_batch: 1,
            max_wait: Duration::from_millis(20),
            upstream,
        };
        let source = if model.ends_with(".onnx") {
            RestorerSource::Path(Path::new(&model))
        } else {
            RestorerSource::Manifest(
                manifest
                    .restorer(&model)
                    .unwrap_or_else(|| fail("unknown model", &model)),
            )
        };
        let r = Restorer::start(&env, &models_dir, source, &opts, 1, Some(cap), policy)
            .unwrap_or_else(|e| fail("loading the model", e));
        let s = r.spec().size;
        let face = tensor::preprocess(
            &[image::RgbImage::from_pixel(
                s,
                s,
                image::Rgb([128, 110, 90]),
            )],
            r.spec().normalisation,
        );
        let batch =
            |n: usize| TensorF32::new(vec![n, 3, s as usize, s as usize], face.data.repeat(n));
        // warm-up at the measured batch size (CUDA picks kernels per shape)
        rt.block_on(r.run(batch(cap as usize), None))
            .unwrap_or_else(|e| fail("warm-up", e));
        let t = Instant::now();
        rt.block_on(async {
            let jobs = (0..faces / per_job).map(|_| {
                let r = r.clone();
                let input = batch(per_job);
                async move { r.run(input, None).await }
            });
            for out in futures_util::future::join_all(jobs).await {
                out.unwrap_or_else(|e| fail("restore", e));
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let fps = faces as f64 / secs;
        println!(
            "{label:<28} {secs:>10.3} {fps:>12.2} {:>8}",
            r.device().as_str()
        );
        results.push(fps);
    }
    if let [b1, b8, ..] = results[..] {
        println!("batch 8 / batch 1 throughput: {:.2}x", b8 / b1);
    }
}
