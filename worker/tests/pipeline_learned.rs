//! The learned restorer (Real-ESRGAN x4plus, converted from a registry wheel by
//! scripts/setup-models.sh) as the default face restorer and as the background
//! upsampler: tiles against one window, faces restored through the pipeline, the
//! upsampler's pixel limit, and a graph that cannot enlarge refused at start.
//!
//! The network costs ~35 MFLOP per input pixel, so every input here is tiny.

mod cv_support;
mod pipeline_support;

use bytes::Bytes;
use cv_support::psnr_u8;
use facefix_shared::ErrorCode;
use facefix_shared::intake::ImageLimits;
use facefix_shared::models::Manifest;
use facefix_worker::pipeline::inference::model_args::DEFAULT_MAX_OUTPUT_PIXELS;
use facefix_worker::pipeline::inference::runtime;
use facefix_worker::pipeline::restore::tiles::Tiling;
use facefix_worker::pipeline::restore::{BatchPolicy, Restorer, RestorerSource};
use facefix_worker::pipeline::{Engine, FacePipeline, Limits, ModelArgs, NoStageObserver, Request};
use image::RgbImage;
use pipeline_support::{
    SETUP_HINT, decode_rgb, model_args, models_dir, read_image, rt, test_restorer,
};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const LEARNED: &str = "realesrgan-x4plus";

fn load(args: &ModelArgs) -> Arc<Engine> {
    assert!(
        models_dir()
            .join("realesrgan/realesrgan_x4plus.onnx")
            .is_file(),
        "missing the converted Real-ESRGAN model: {SETUP_HINT}"
    );
    Arc::new(
        Engine::load(args).unwrap_or_else(|e| panic!("loading the models: {e} ({SETUP_HINT})")),
    )
}

/// One engine per test binary with the manifest's default restorer (the learned one,
/// where setup-models.sh installed it).
fn learned_engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| load(&model_args(None))).clone()
}

fn pipeline(engine: Arc<Engine>) -> FacePipeline {
    FacePipeline::new(
        engine,
        Limits {
            decode: ImageLimits::default(),
            max_output_pixels: DEFAULT_MAX_OUTPUT_PIXELS,
            quality: 95,
        },
    )
}

fn decode_png(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes)
        .unwrap_or_else(|e| panic!("decode the output: {e}"))
        .to_rgb8()
}

#[test]
fn the_learned_model_is_the_default_and_the_background_upsampler() {
    let engine = learned_engine();
    let default = engine.restorer(None).expect("a default restorer");
    assert_eq!(default.spec().name, LEARNED);
    assert_eq!(default.spec().scale, Some(4));
    // The built unsharp mask is loaded beside it, as the fast option a job can name.
    let loaded: Vec<&str> = engine
        .restorers()
        .iter()
        .map(|r| r.spec().name.as_str())
        .collect();
    assert_eq!(loaded, [LEARNED, "facefix-usm-512"]);
    let upsampler = engine.bg_upsampler("realesrgan").expect("installed");
    assert_eq!(upsampler.spec().name, LEARNED);
    let listed = engine.upsamplers();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "realesrgan");
    assert!(listed[0].max_pixels >= 10_000, "{listed:?}");
    let unknown = engine.bg_upsampler("waifu2x").err().expect("not installed");
    assert_eq!(unknown.code(), ErrorCode::UnknownModel);
}

#[test]
fn tiled_background_matches_one_window_and_the_overlap_hides_the_seams() {
    let engine = learned_engine();
    let upsampler = engine.bg_upsampler("realesrgan").expect("installed");
    // 40×36 of the face: every tile plan below cuts through it.
    let source = decode_rgb("tiny_face_64x75.png");
    let img = Arc::new(image::imageops::crop_imm(&source, 12, 20, 40, 36).to_image());
    let rt = rt();
    let enlarge = |tile, overlap| {
        rt.block_on(upsampler.enlarge(Arc::clone(&img), Tiling { tile, overlap }, 4))
            .unwrap_or_else(|e| panic!("enlarge with tile {tile}: {e}"))
    };
    let whole = enlarge(64, 0);
    assert_eq!(whole.dimensions(), (160, 144));
    let tiled = enlarge(16, 8);
    let seams = enlarge(16, 0);
    let with_overlap = psnr_u8(whole.as_raw(), tiled.as_raw());
    let without = psnr_u8(whole.as_raw(), seams.as_raw());
    eprintln!(
        "tiled against one window: {with_overlap:.1} dB with 8 px overlap, {without:.1} dB without"
    );
    assert!(
        with_overlap >= 40.0,
        "tiles with overlap: {with_overlap:.1} dB"
    );
    assert!(
        with_overlap > without + 3.0,
        "the overlap must matter: {with_overlap:.1} vs {without:.1} dB"
    );
    // The requested upscale below the network's: area-averaged from the 4× canvas.
    let half = rt
        .block_on(upsampler.enlarge(
            Arc::clone(&img),
            Tiling {
                tile: 64,
                overlap: 0,
            },
            2,
        ))
        .expect("enlarge ×2");
    assert_eq!(half.dimensions(), (80, 72));
}

#[test]
fn a_tiny_face_is_restored_by_the_network_and_the_background_enlarged_on_request() {
    let pipeline = pipeline(learned_engine());
    let input = Bytes::from(read_image("tiny_face_24x28.png"));
    let rt = rt();
    let run = |bg: Option<&str>| {
        let req = Request {
            upscale: 4,
            bg_upsampler: bg.map(str::to_string),
            ..Request::default()
        };
        rt.block_on(pipeline.run(input.clone(), &req, Arc::new(NoStageObserver)))
            .unwrap_or_else(|e| panic!("restore (bg {bg:?}): {e}"))
    };
    let plain = run(None);
    assert_eq!(plain.restorer, LEARNED);
    assert_eq!(plain.num_restored, 1);
    assert_eq!((plain.width, plain.height), (96, 112));
    let with_bg = run(Some("realesrgan"));
    assert_eq!((with_bg.width, with_bg.height), (96, 112));
    let (a, b) = (decode_png(&plain.bytes), decode_png(&with_bg.bytes));
    let same = psnr_u8(a.as_raw(), b.as_raw());
    assert!(
        same < 60.0,
        "the network background must differ from Lanczos ({same:.1} dB)"
    );
}

#[test]
fn the_upsampler_refuses_images_over_its_limit() {
    let engine = load(&ModelArgs {
        bg_upsampler_max_pixels: Some(24 * 28 - 1),
        restorer: Some(
            test_restorer("restorer_identity_512.onnx")
                .display()
                .to_string(),
        ),
        ..model_args(None)
    });
    assert_eq!(engine.bg_upsampler_max_pixels, 24 * 28 - 1);
    let req = Request {
        bg_upsampler: Some("realesrgan".into()),
        ..Request::default()
    };
    let answer = rt().block_on(pipeline(engine).run(
        Bytes::from(read_image("tiny_face_24x28.png")),
        &req,
        Arc::new(NoStageObserver),
    ));
    let Err(err) = answer else {
        panic!("a 24x28 image over a limit of 671 pixels was restored");
    };
    assert_eq!(err.code(), ErrorCode::UpsamplerTooLarge, "{err}");
}

#[test]
fn a_graph_that_cannot_take_any_size_is_refused_as_an_enlarging_restorer() {
    let manifest = Manifest::load_dir(&models_dir()).expect("manifest");
    let mut entry = manifest.restorer(LEARNED).expect("in the manifest").clone();
    // A fixed 256×256 graph under an entry that promises any size in, 4× out.
    entry.file = test_restorer("restorer_asym_256_dyn.onnx");
    entry.sha256 = String::new();
    let env = runtime::environment(None).expect("ONNX Runtime");
    let policy = BatchPolicy {
        max_batch: 1,
        max_wait: Duration::ZERO,
        upstream: Arc::default(),
    };
    let err = Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Manifest(&entry),
        &ModelArgs::default().session_options(),
        1,
        None,
        policy,
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("[N,3,?,?]"), "{err}");
}
