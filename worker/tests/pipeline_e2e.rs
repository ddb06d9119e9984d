//! `FacePipeline` through the `ImageProcessor` seam the job loop uses: stages reported in
//! order, timings, formats, the output limit, unknown models, the aligned path.

mod pipeline_support;

use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::job::{ImageFormat, JobParams, Stage};
use facefix_worker::pipeline::{FacePipeline, Limits};
use facefix_worker::processors::{ImageProcessor, ProcessError, StageObserver};
use pipeline_support::{asym_engine, asym_pipeline, read_image, rt};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorder(Mutex<Vec<Stage>>);

impl StageObserver for Recorder {
    fn entered(&self, stage: Stage) {
        if let Ok(mut v) = self.0.lock() {
            v.push(stage);
        }
    }
}

fn process(
    p: &FacePipeline,
    image: &str,
    params: JobParams,
) -> (
    Result<facefix_worker::processors::Processed, ProcessError>,
    Vec<Stage>,
) {
    let rec = Arc::new(Recorder::default());
    let obs: Arc<dyn StageObserver> = rec.clone();
    let out = rt().block_on(p.process(Bytes::from(read_image(image)), &params, obs));
    let stages = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
    (out, stages)
}

#[test]
fn astronaut_end_to_end_through_the_processor_seam() {
    let p = asym_pipeline();
    let (out, stages) = process(&p, "astronaut.png", JobParams::default());
    let out = out.expect("processed");
    assert_eq!((out.width, out.height), (1024, 1024));
    assert_eq!(out.format, ImageFormat::Png, "default format = the input's");
    assert_eq!((out.faces_found, out.faces_restored), (1, 1));
    assert_eq!(
        stages,
        [
            Stage::Decode,
            Stage::Detect,
            Stage::Align,
            Stage::Restore,
            Stage::Paste,
            Stage::Encode
        ]
    );
    let t = &out.timings;
    for v in [t.decode, t.detect, t.align, t.restore, t.paste, t.encode] {
        assert!(v.is_some_and(|ms| ms >= 0.0));
    }
    let img = image::load_from_memory(&out.bytes).expect("decodable");
    assert_eq!((img.width(), img.height()), (1024, 1024));
}

#[test]
fn jpeg_in_jpeg_out_and_format_override() {
    let p = asym_pipeline();
    let (out, _) = process(
        &p,
        "grace_hopper.jpg",
        JobParams {
            upscale: 1,
            ..JobParams::default()
        },
    );
    let out = out.expect("processed");
    assert_eq!(out.format, ImageFormat::Jpeg);
    assert_eq!(&out.bytes[..2], &[0xFF, 0xD8]);
    let (out, _) = process(
        &p,
        "grace_hopper.jpg",
        JobParams {
            upscale: 1,
            format: Some(ImageFormat::Webp),
            ..JobParams::default()
        },
    );
    let out = out.expect("processed");
    assert_eq!(out.format, ImageFormat::Webp);
    assert_eq!(&out.bytes[8..12], b"WEBP");
}

#[test]
fn no_face_gives_the_upscaled_image() {
    let (out, stages) = process(&asym_pipeline(), "coffee.png", JobParams::default());
    let out = out.expect("processed");
    assert_eq!((out.width, out.height, out.faces_found), (1200, 800, 0));
    assert!(stages.contains(&Stage::Paste));
}

#[test]
fn output_limit_refuses_with_output_too_large() {
    let p = FacePipeline::new(
        asym_engine(),
        Limits {
            max_output_pixels: 1_000_000,
            ..asym_pipeline().limits().clone()
        },
    );
    let (out, _) = process(
        &p,
        "astronaut.png",
        JobParams {
            upscale: 4,
            ..JobParams::default()
        },
    );
    match out {
        Err(ProcessError::Permanent { code, message }) => {
            assert_eq!(code, ErrorCode::OutputTooLarge);
            assert!(message.contains("2048x2048"), "{message}");
        }
        other => panic!("expected output-too-large, got {other:?}"),
    }
    let (out, _) = process(
        &p,
        "astronaut.png",
        JobParams {
            upscale: 1,
            ..JobParams::default()
        },
    );
    assert!(out.is_ok(), "512x512 fits");
}

#[test]
fn unknown_model_is_a_permanent_error() {
    let (out, _) = process(
        &asym_pipeline(),
        "astronaut.png",
        JobParams {
            model: Some("no-such-model".into()),
            ..JobParams::default()
        },
    );
    assert!(
        matches!(
            out,
            Err(ProcessError::Permanent {
                code: ErrorCode::UnknownModel,
                ..
            })
        ),
        "{out:?}"
    );
}

#[test]
fn aligned_restores_the_whole_input_at_model_size() {
    let (out, stages) = process(
        &asym_pipeline(),
        "tiny_face_64x75.png",
        JobParams {
            aligned: true,
            ..JobParams::default()
        },
    );
    let out = out.expect("processed");
    assert_eq!((out.width, out.height), (512, 512));
    assert_eq!((out.faces_found, out.faces_restored), (0, 1));
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("upscale 2 not applied")),
        "{:?}",
        out.notes
    );
    assert_eq!(
        stages,
        [Stage::Decode, Stage::Align, Stage::Restore, Stage::Encode]
    );
}

#[test]
fn lists_the_loaded_restorers() {
    let models = asym_pipeline().models();
    assert_eq!(models.len(), 1);
    assert!(models[0].default);
    assert_eq!(models[0].name, "restorer_asym_512");
    assert!(!models[0].fidelity);
}

#[test]
fn concurrent_jobs_share_the_sessions() {
    let p = Arc::new(asym_pipeline());
    let results = rt().block_on(async {
        let jobs = [
            "astronaut.png",
            "collage_4faces.png",
            "grace_hopper.jpg",
            "coffee.png",
        ]
        .map(|name| {
            let p = Arc::clone(&p);
            async move {
                let obs: Arc<dyn StageObserver> = Arc::new(Recorder::default());
                p.process(Bytes::from(read_image(name)), &JobParams::default(), obs)
                    .await
            }
        });
        futures_util::future::join_all(jobs).await
    });
    let faces: Vec<u32> = results
        .into_iter()
        .map(|r| r.expect("processed").faces_restored)
        .collect();
    assert_eq!(faces, [1, 4, 1, 0]);
}
