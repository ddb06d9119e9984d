//! Criterion benches of each pipeline stage (decode, detect, align, restore with the
//! default model, the paste-back's Lanczos background alone and with the faces, encode)
//! and of the whole pipeline, on the astronaut (512²,
//! 1 face), the collage (1600×600, 4 faces) and the 33 MP image (7680×4320, 1 face).
//!
//! Needs `scripts/setup-models.sh` (models, ONNX Runtime) and `scripts/setup-testdata.sh`
//! (the 33 MP image is generated, not committed).
//! Run: `cargo bench -p facefix-benches --bench pipeline` (add `-- astronaut` to filter).
//! CPU, the default restorer (facefix-usm-512), upscale 2, intra-op threads = cores.

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::NoStageObserver;
use facefix_worker::pipeline::image::cv;
use facefix_worker::pipeline::inference::runtime::Device;
use facefix_worker::pipeline::restore::tensor;
use facefix_worker::pipeline::stages;
use facefix_worker::pipeline::{Face, ModelArgs};
use facefix_worker::pipeline::{FacePipeline, Request};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const IMAGES: [(&str, &str); 3] = [
    ("astronaut", "astronaut.png"),
    ("collage", "collage_4faces.png"),
    ("large_33mp", "large_7680x4320.jpg"),
];
const UPSCALE: u32 = 2;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!(
        "pipeline bench: {what}: {e} (run scripts/setup-models.sh, then scripts/setup-testdata.sh)"
    );
    std::process::exit(1)
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    format: ImageFormat,
    rgb: image::RgbImage,
    faces: Vec<Face>,
    crops: Vec<image::RgbImage>,
    restored: Vec<image::RgbImage>,
    output: image::RgbImage,
}

fn stages_bench(c: &mut Criterion) {
    let args = ModelArgs {
        models_dir: Some(repo().join("models")),
        device: Device::Cpu,
        batch_wait_ms: 0,
        // The stage benches time the GFPGAN-contract path at 512 (the learned default
        // enlarges faces at their own sizes and has benches/quality).
        restorer: Some("facefix-usm-512".into()),
        ..ModelArgs::default()
    };
    let pipeline = FacePipeline::load(&args).unwrap_or_else(|e| fail("loading the models", e));
    let engine = Arc::clone(pipeline.engine());
    let restorer = engine
        .restorer(None)
        .unwrap_or_else(|e| fail("default restorer", e))
        .clone();
    let size = restorer.spec().size;
    let norm = restorer.spec().normalisation;
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| fail("tokio", e));
    let limits = ImageLimits::default();

    let cases: Vec<Case> = IMAGES
        .iter()
        .map(|(name, file)| {
            let path = repo().join("testdata/images").join(file);
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| fail(&path.display().to_string(), e));
            let d = stages::decode(&bytes, &limits).unwrap_or_else(|e| fail("decode", e));
            let (faces, _) = engine
                .detector
                .detect(&d.rgb)
                .unwrap_or_else(|e| fail("detect", e));
            let mut faces = faces;
            let crops: Vec<_> = faces
                .iter_mut()
                .map(|f| {
                    let (crop, m) = stages::align(&d.rgb, &f.landmarks, size);
                    f.affine = Some(m);
                    crop
                })
                .collect();
            let out = rt
                .block_on(restorer.run(tensor::preprocess(&crops, norm), None))
                .unwrap_or_else(|e| fail("restore", e));
            let restored = tensor::postprocess(&out, norm);
            let affines: Vec<_> = faces.iter().filter_map(|f| f.affine).collect();
            let (output, _) = stages::paste(&d.rgb, restored.clone(), &affines, UPSCALE);
            Case {
                name,
                bytes,
                format: d.format,
                rgb: d.rgb,
                faces,
                crops,
                restored,
                output,
            }
        })
        .collect();

    for case in &cases {
        let mut g = c.benchmark_group(case.name);
        if case.rgb.width() * case.rgb.height() > 4_000_000 {
            g.sample_size(10).measurement_time(Duration::from_secs(20));
        } else {
            g.sample_size(20);
        }
        g.bench_function(BenchmarkId::new("decode", case.name), |b| {
            b.iter(|| stages::decode(black_box(&case.bytes), &limits))
        });
        g.bench_function(BenchmarkId::new("detect", case.name), |b| {
            b.iter(|| engine.detector.detect(black_box(&case.rgb)))
        });
        g.bench_function(BenchmarkId::new("align", case.name), |b| {
            b.iter(|| {
                case.faces
                    .iter()
                    .map(|f| stages::align(black_box(&case.rgb), &f.landmarks, size))
                    .collect::<Vec<_>>()
            })
        });
        g.bench_function(BenchmarkId::new("restore", case.name), |b| {
            b.iter(|| {
                let out = rt.block_on(restorer.run(tensor::preprocess(&case.crops, norm), None));
                out.map(|t| tensor::postprocess(&t, norm))
            })
        });
        let (w, h) = case.rgb.dimensions();
        g.bench_function(BenchmarkId::new("background", case.name), |b| {
            b.iter(|| cv::resize_lanczos4(black_box(&case.rgb), w * UPSCALE, h * UPSCALE))
        });
        let affines: Vec<_> = case.faces.iter().filter_map(|f| f.affine).collect();
        g.bench_function(BenchmarkId::new("paste", case.name), |b| {
            b.iter_batched(
                || case.restored.clone(),
                |restored| stages::paste(black_box(&case.rgb), restored, &affines, UPSCALE),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(BenchmarkId::new("encode", case.name), |b| {
            b.iter(|| stages::encode(black_box(&case.output), None, case.format, 95))
        });
        let req = Request {
            upscale: UPSCALE,
            ..Request::default()
        };
        g.bench_function(BenchmarkId::new("end_to_end", case.name), |b| {
            b.iter(|| {
                rt.block_on(pipeline.run(
                    Bytes::from(case.bytes.clone()),
                    &req,
                    Arc::new(NoStageObserver),
                ))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, stages_bench);
criterion_main!(benches);
