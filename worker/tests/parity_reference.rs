//! Parity with the Python reference (`tools/reference/facefix_ref.py`): for every test
//! image the CLI decodes, with the reference's `asym` test restorer at upscale 1 and 2,
//! the same face count, landmarks within 1 px, and PSNR of the whole output >= 40 dB;
//! once with MTCNN and once with RetinaFace (`--detector retinaface`) on both sides.
//!
//! The reference runs in the project venv (`.venv/bin/python`, made by
//! `scripts/setup-models.sh`). Formats the CLI does not read (TIFF, AVIF, HEIC) must be
//! refused cleanly with `unsupported-format`. Ours runs in-process, the pipeline as
//! `facefix restore` runs it (the command itself is tested as a process in the binary's
//! `tests/restore_cli.rs`).

mod pipeline_support;

use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::{NoStageObserver, PipelineError, Request};
use pipeline_support::{
    asym_pipeline, models_dir, repo, retinaface_pipeline, test_restorer, testdata, venv_python,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const MIN_PSNR_DB: f64 = 40.0;
const MAX_LANDMARK_PX: f64 = 1.0;

/// Runs the pipeline as `facefix restore INPUT OUTPUT.png --upscale N --restorer asym`
/// does, writes OUTPUT, and returns the metadata compared, named as in its META.json.
fn run_ours(
    input: &Path,
    output: &Path,
    upscale: u32,
    detector: Detector,
) -> Result<serde_json::Value, PipelineError> {
    let bytes = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let req = Request {
        upscale,
        format: Some(ImageFormat::Png),
        ..Request::default()
    };
    let pipeline = match detector {
        Detector::Mtcnn => asym_pipeline(),
        Detector::RetinaFace => retinaface_pipeline(),
    };
    let restored = pipeline_support::rt().block_on(pipeline.run(
        Bytes::from(bytes),
        &req,
        Arc::new(NoStageObserver),
    ))?;
    std::fs::write(output, &restored.bytes).unwrap_or_else(|e| panic!("{}: {e}", output.display()));
    Ok(serde_json::json!({
        "num_faces": restored.faces.len(),
        "faces": restored.faces,
    }))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_reference(
    input: &Path,
    output: &Path,
    json: &Path,
    upscale: u32,
    detector: Detector,
) -> serde_json::Value {
    let script = repo().join("tools/reference/facefix_ref.py");
    let (name, model) = match detector {
        Detector::Mtcnn => ("mtcnn", models_dir().join("mtcnn")),
        Detector::RetinaFace => (
            "retinaface",
            models_dir().join("retinaface/retinaface_mnet025.onnx"),
        ),
    };
    let out = Command::new(venv_python())
        .arg(&script)
        .arg(input)
        .arg(output)
        .args(["--detector", name, "--detector-dir"])
        .arg(model)
        .arg("--restorer")
        .arg(test_restorer("restorer_asym_512.onnx"))
        .args([
            "--upscale",
            &upscale.to_string(),
            "--threads",
            "2",
            "--json",
        ])
        .arg(json)
        .output()
        .unwrap_or_else(|e| panic!("running the reference: {e}"));
    assert!(
        out.status.success(),
        "reference failed on {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    read_json(json)
}

fn psnr(a: &Path, b: &Path) -> f64 {
    let load = |p: &Path| {
        image::open(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .to_rgb8()
    };
    let (x, y) = (load(a), load(b));
    assert_eq!(x.dimensions(), y.dimensions(), "output sizes differ");
    let mut se = 0f64;
    for (p, q) in x.as_raw().iter().zip(y.as_raw()) {
        let d = f64::from(*p) - f64::from(*q);
        se += d * d;
    }
    let mse = se / x.as_raw().len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn landmarks(meta: &serde_json::Value) -> Vec<[f64; 2]> {
    meta["faces"]
        .as_array()
        .map(|faces| {
            faces
                .iter()
                .flat_map(|f| f["landmarks"].as_array().cloned().unwrap_or_default())
                .map(|p| {
                    [
                        p[0].as_f64().unwrap_or(f64::NAN),
                        p[1].as_f64().unwrap_or(f64::NAN),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every file of the repository's `testdata/images/` (it holds pictures only).
fn images() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(testdata().join("images"))
        .unwrap_or_else(|e| panic!("list test images: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// The detector both sides use.
#[derive(Debug, Clone, Copy)]
enum Detector {
    Mtcnn,
    RetinaFace,
}

#[test]
fn cli_matches_the_reference_on_every_test_image() {
    parity_on_every_test_image(Detector::Mtcnn, &[1, 2]);
}

/// The same with `--detector retinaface` on both sides.
#[test]
fn cli_matches_the_reference_with_retinaface() {
    parity_on_every_test_image(Detector::RetinaFace, &[1, 2]);
}

fn parity_on_every_test_image(detector: Detector, upscales: &[u32]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut table = vec![format!(
        "{:<28} {:>2} {:>6} {:>6} {:>10} {:>8}",
        "image", "up", "faces", "ref", "lm max px", "PSNR dB"
    )];
    let mut failures = Vec::new();
    for input in images() {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for &upscale in upscales {
            let stem = format!("{name}.x{upscale}");
            let ours_png = dir.path().join(format!("{stem}.ours.png"));
            let ours = match run_ours(&input, &ours_png, upscale, detector) {
                Ok(m) => m,
                Err(e) if e.code() == ErrorCode::UnsupportedFormat => {
                    table.push(format!(
                        "{name:<28} {upscale:>2} refused: unsupported-format"
                    ));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{stem}: the pipeline failed: {e}"));
                    continue;
                }
            };
            let (ref_png, ref_json) = (
                dir.path().join(format!("{stem}.ref.png")),
                dir.path().join(format!("{stem}.ref.json")),
            );
            let reference = run_reference(&input, &ref_png, &ref_json, upscale, detector);
            let (n_ours, n_ref) = (ours["num_faces"].as_u64(), reference["num_faces"].as_u64());
            if n_ours != n_ref {
                failures.push(format!("{stem}: {n_ours:?} faces, the reference {n_ref:?}"));
            }
            let (lo, lr) = (landmarks(&ours), landmarks(&reference));
            let lm_max = lo
                .iter()
                .zip(&lr)
                .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
                .fold(0.0, f64::max);
            let over = lm_max.is_nan() || lm_max > MAX_LANDMARK_PX;
            if lo.len() != lr.len() || over {
                failures.push(format!("{stem}: landmarks differ by {lm_max:.3} px"));
            }
            let db = psnr(&ours_png, &ref_png);
            if db < MIN_PSNR_DB {
                failures.push(format!("{stem}: PSNR {db:.2} dB < {MIN_PSNR_DB}"));
            }
            table.push(format!(
                "{name:<28} {upscale:>2} {:>6} {:>6} {lm_max:>10.4} {db:>8.2}",
                n_ours.unwrap_or(0),
                n_ref.unwrap_or(0)
            ));
            // The 33 MP outputs are large: keep the temp dir small.
            for p in [&ours_png, &ref_png] {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    println!("{detector:?}\n{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}
