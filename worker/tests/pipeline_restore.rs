//! The restorer stage on real crops: the GFPGAN contract, batching within and across
//! jobs (same results as face by face), fixed-batch models, the fidelity input, and the
//! start-up checks against the manifest.

mod pipeline_support;

use facefix_shared::models::Manifest;
use facefix_worker::pipeline::inference::runtime::{
    self, CudaTuning, Device, RuntimeError, SessionOptions,
};
use facefix_worker::pipeline::inference::session::TensorF32;
use facefix_worker::pipeline::restore::{BatchPolicy, Restorer, RestorerSource, tensor};
use image::RgbImage;
use pipeline_support::{decode_rgb, models_dir, rt, test_restorer};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

fn opts() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        cuda_device_id: 0,
        intra_threads: 1,
        cuda: CudaTuning::default(),
        ..SessionOptions::default()
    }
}

fn policy(upstream: usize, wait_ms: u64) -> BatchPolicy {
    BatchPolicy {
        max_batch: 1,
        max_wait: Duration::from_millis(wait_ms),
        upstream: Arc::new(AtomicUsize::new(upstream)),
    }
}

fn start(
    file: &str,
    sessions: usize,
    cap: Option<u32>,
    p: BatchPolicy,
) -> Result<Restorer, RuntimeError> {
    let env = runtime::environment(None)?;
    let path = test_restorer(file);
    Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Path(&path),
        &opts(),
        sessions,
        cap,
        p,
    )
}

/// Four different 512 crops of the test images.
fn crops() -> Vec<RgbImage> {
    let a = decode_rgb("astronaut.png");
    let g = image::imageops::resize(
        &decode_rgb("grace_hopper.jpg"),
        512,
        512,
        image::imageops::FilterType::Triangle,
    );
    let mut flipped = a.clone();
    image::imageops::flip_horizontal_in_place(&mut flipped);
    let c = image::imageops::resize(
        &decode_rgb("coffee.png"),
        512,
        512,
        image::imageops::FilterType::Triangle,
    );
    vec![a, g, flipped, c]
}

fn restore_all(
    r: &Restorer,
    crops: &[RgbImage],
    per_job: usize,
    fidelity: Option<f32>,
) -> Vec<RgbImage> {
    rt().block_on(async {
        let jobs = crops.chunks(per_job).map(|chunk| {
            let r = r.clone();
            let input = tensor::preprocess(chunk, r.spec().normalisation);
            async move { r.run(input, fidelity).await }
        });
        let outs = futures_util::future::join_all(jobs).await;
        outs.into_iter()
            .flat_map(|o| {
                tensor::postprocess(
                    &o.unwrap_or_else(|e| panic!("restore: {e}")),
                    r.spec().normalisation,
                )
            })
            .collect()
    })
}

/// asym applied in plain Rust to the first crop, to check the contract end to end
/// (RGB order, NCHW, [-1,1]): R sharpens against its right neighbour.
fn asym_pixel(crop: &RgbImage, x: u32, y: u32) -> [u8; 3] {
    let f = |x: u32, y: u32, c: usize| (f32::from(crop.get_pixel(x, y)[c]) / 255.0 - 0.5) / 0.5;
    let r = 1.6 * f(x, y, 0) - 0.6 * f(x + 1, y, 0);
    let g = 1.6 * f(x, y, 1) - 0.6 * f(x, y + 1, 1);
    let b = 1.6 * f(x, y, 2) - 0.3 * f(x, y - 1, 2) - 0.3 * f(x - 1, y, 2);
    [r + 0.12, 0.9 * g, 0.8 * b - 0.15].map(tensor::to_u8)
}

#[test]
fn asym_follows_the_gfpgan_contract() {
    let r = start("restorer_asym_512.onnx", 1, None, policy(0, 0)).expect("start");
    assert_eq!(r.spec().size, 512);
    assert_eq!(r.spec().max_batch, 1, "fixed batch of 1");
    let c = crops();
    let out = restore_all(&r, &c[..1], 1, None);
    for (x, y) in [(100, 100), (250, 140), (400, 300), (17, 480)] {
        let want = asym_pixel(&c[0], x, y);
        let got = out[0].get_pixel(x, y).0;
        for k in 0..3 {
            assert!(
                (i16::from(got[k]) - i16::from(want[k])).abs() <= 1,
                "({x},{y}): {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn batching_gives_the_same_faces_as_one_by_one() {
    let c = crops();
    let single = start("restorer_asym_512.onnx", 1, None, policy(0, 0)).expect("start");
    let one_by_one = restore_all(&single, &c, 1, None);
    // dynamic batch, faces of one job together, then four jobs batched across (they are
    // upstream, so the thread waits for batch-mates)
    let batched = start("restorer_asym_512_dyn.onnx", 1, Some(4), policy(1, 50)).expect("start");
    assert_eq!(batched.spec().max_batch, 4);
    assert_eq!(restore_all(&batched, &c, 4, None), one_by_one);
    assert_eq!(restore_all(&batched, &c, 1, None), one_by_one);
    // two sessions, a cap of 3: jobs split across batches and threads
    let split = start("restorer_asym_512_dyn.onnx", 2, Some(3), policy(1, 5)).expect("start");
    assert_eq!(restore_all(&split, &c, 2, None), one_by_one);
}

#[test]
fn fidelity_input_is_fed_when_declared() {
    let c = crops();
    let plain = start("restorer_sharpen_512.onnx", 1, None, policy(0, 0)).expect("start");
    assert!(plain.spec().fidelity.is_none());
    let weighted = start("restorer_sharpen_w_512.onnx", 1, None, policy(0, 0)).expect("start");
    let f = weighted.spec().fidelity.clone().expect("fidelity input");
    assert_eq!(f.name, "weight");
    assert!(f.double);
    let a = restore_all(&plain, &c[..2], 2, None);
    // default fidelity 0.5 == sharpen (up to float rounding: 1 LSB)
    let b = restore_all(&weighted, &c[..2], 2, None);
    for (x, y) in a.iter().zip(&b) {
        let max = x
            .as_raw()
            .iter()
            .zip(y.as_raw())
            .map(|(p, q)| p.abs_diff(*q))
            .max();
        assert!(max <= Some(1), "sharpen_w at 0.5 vs sharpen: {max:?}");
    }
    // weight 0: no sharpening at all
    let zero = restore_all(&weighted, &c[..1], 1, Some(0.0));
    let d = zero[0]
        .as_raw()
        .iter()
        .zip(c[0].as_raw())
        .map(|(p, q)| p.abs_diff(*q))
        .max();
    assert!(d <= Some(1), "weight 0 must give the input back: {d:?}");
}

#[test]
fn manifest_gfpgan_contract_restorer_loads_and_checks() {
    let manifest = Manifest::load_dir(&models_dir()).expect("manifest");
    let entry = manifest
        .restorer("facefix-usm-512")
        .expect("the built restorer");
    let env = runtime::environment(None).expect("env");
    let r = Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Manifest(entry),
        &opts(),
        1,
        Some(8),
        policy(0, 0),
    )
    .expect("default restorer");
    assert_eq!(r.spec().max_batch, 8);
    let out = restore_all(&r, &crops()[..2], 2, None);
    assert_eq!(out.len(), 2);
    // A manifest entry that disagrees with the graph is refused at start.
    let mut wrong = entry.clone();
    wrong.size = 256;
    let err = Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Manifest(&wrong),
        &opts(),
        1,
        None,
        policy(0, 0),
    )
    .err()
    .expect("size mismatch refused");
    assert!(err.to_string().contains("[N,3,256,256]"), "{err}");
    let mut tampered = entry.clone();
    tampered.sha256 = "0".repeat(64);
    let err = Restorer::start(
        &env,
        &models_dir(),
        RestorerSource::Manifest(&tampered),
        &opts(),
        1,
        None,
        policy(0, 0),
    )
    .err()
    .expect("checksum mismatch refused");
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn a_256_restorer_works_too() {
    let r = start("restorer_asym_256_dyn.onnx", 1, None, policy(0, 0)).expect("start");
    assert_eq!(r.spec().size, 256);
    let c: Vec<RgbImage> = crops()
        .iter()
        .map(|i| image::imageops::resize(i, 256, 256, image::imageops::FilterType::Triangle))
        .collect();
    assert_eq!(restore_all(&r, &c, 4, None).len(), 4);
    let bad = rt().block_on(r.run(
        TensorF32::new(vec![1, 3, 512, 512], vec![0.0; 3 * 512 * 512]),
        None,
    ));
    assert!(bad.is_err(), "a 512 crop is refused by a 256 model");
}
