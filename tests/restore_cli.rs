//! `facefix restore` as a process: exit status, stderr, stdout and META.json of the built
//! binary. The pipeline behind it is tested in `facefix-worker` (parity, bad inputs).

mod common;

use common::testdata;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `facefix restore INPUT OUTPUT` on the CPU with the tiny `asym` test restorer.
fn restore(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let restorer = repo().join("models/test/restorer_asym_512.onnx");
    assert!(
        restorer.is_file(),
        "missing {}: run scripts/setup-models.sh",
        restorer.display()
    );
    let restorer = restorer.display().to_string();
    let mut args = vec!["--device", "cpu", "--restorer", &restorer];
    args.extend_from_slice(extra);
    restore_with(&repo().join("models"), input, output, &args)
}

/// Runs `facefix restore INPUT OUTPUT` with the models in `models` and `args`.
fn restore_with(models: &Path, input: &Path, output: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facefix"))
        .arg("restore")
        .arg(input)
        .arg(output)
        .arg("--models-dir")
        .arg(models)
        .args(["--detector-sessions", "1"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running facefix restore: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_photo_is_restored_with_its_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (output, json) = (dir.path().join("out.png"), dir.path().join("meta.json"));
    let json_arg = json.display().to_string();
    let out = restore(
        &testdata("images/astronaut.png"),
        &output,
        &["--upscale", "1", "--json", &json_arg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 face(s) restored"), "{stdout}");
    assert!(output.is_file());
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("META.json")).expect("json");
    assert_eq!(meta["num_faces"], 1, "{meta}");
    assert_eq!(meta["output_size"], serde_json::json!([512, 512]));
    assert_eq!(meta["device"], "cpu");
    assert_eq!(meta["restorer"]["size"], 512);
}

#[test]
fn a_bad_input_exits_2_naming_its_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = restore(
        &testdata("bad/not_an_image.jpg"),
        &dir.path().join("out.png"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[unsupported-format]"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("out.png").exists());
}

#[test]
fn input_limits_are_the_shared_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `--max-input-*` is the spelling before the roles shared the flags. The astronaut
    // is 512 x 512 (262 144 pixels): each limit below refuses it by one.
    let cases = [
        ("--max-side", "511"),
        ("--max-input-side", "511"),
        ("--max-pixels", "262143"),
        ("--max-input-pixels", "262143"),
    ];
    for (flag, limit) in cases {
        let out = restore(
            &testdata("images/astronaut.png"),
            &dir.path().join("out.png"),
            &[flag, limit],
        );
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("[too-many-pixels]"),
            "{flag}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn an_output_it_cannot_write_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = restore(
        &testdata("images/astronaut.png"),
        &dir.path().join("out.bmp"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("must end in"), "{}", stderr(&out));
}

/// The 8-bit pixels of a PNG.
fn pixels(path: &Path) -> Vec<u8> {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
        .into_raw()
}

#[test]
fn precision_fp16_restores_with_the_variant_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = repo().join("models");
    let run = |precision: &str| {
        let output = dir.path().join(format!("{precision}.png"));
        let json = dir.path().join(format!("{precision}.json"));
        let json_arg = json.display().to_string();
        let out = restore_with(
            &models,
            &testdata("images/astronaut.png"),
            &output,
            &[
                "--device",
                "cpu",
                "--restorer",
                "facefix-usm-512",
                "--upscale",
                "1",
                "--precision",
                precision,
                "--json",
                &json_arg,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{precision}: {}", stderr(&out));
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("META")).expect("json");
        (pixels(&output), meta)
    };
    let (half, meta) = run("fp16");
    assert_eq!(meta["restorer"]["precision"], "fp16", "{meta}");
    let path = meta["restorer"]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with("facefix_usm_512.fp16.onnx"), "{path}");
    assert_eq!(meta["num_restored"], 1, "{meta}");
    let (full, meta) = run("fp32");
    assert_eq!(meta["restorer"]["precision"], "fp32", "{meta}");
    assert_eq!(half.len(), full.len());
    let mse = half
        .iter()
        .zip(&full)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum::<f64>()
        / half.len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10();
    println!("facefix restore astronaut.png: fp16 vs fp32 PSNR {psnr:.1} dB");
    assert!(psnr >= 40.0, "{psnr:.1} dB");
}

#[test]
fn precision_fp16_without_a_variant_fails_at_start_naming_the_model() {
    // The repository's models with a manifest whose built restorer lost its fp16 line.
    let dir = tempfile::tempdir().expect("tempdir");
    let models = repo().join("models");
    let manifest = std::fs::read_to_string(models.join("manifest.toml")).expect("manifest");
    let stripped: String = manifest
        .lines()
        .filter(|l| !l.starts_with("fp16 = { file = \"facefix_usm_512"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(stripped.len() < manifest.len(), "nothing was stripped");
    std::fs::write(dir.path().join("manifest.toml"), stripped).expect("write");
    for f in ["mtcnn", "facefix_usm_512.onnx", "facefix_usm_512.fp16.onnx"] {
        std::os::unix::fs::symlink(models.join(f), dir.path().join(f)).expect("symlink");
    }
    let out = restore_with(
        dir.path(),
        &testdata("images/astronaut.png"),
        &dir.path().join("out.png"),
        &[
            "--device",
            "cpu",
            "--restorer",
            "facefix-usm-512",
            "--precision",
            "fp16",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("\"facefix-usm-512\" has no fp16 variant"),
        "{err}"
    );
    assert!(err.contains("scripts/setup-models.sh"), "{err}");
    assert!(!dir.path().join("out.png").exists());
}

#[test]
fn device_tensorrt_fails_at_start_on_the_cpu_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = restore_with(
        &repo().join("models"),
        &testdata("images/astronaut.png"),
        &dir.path().join("out.png"),
        &["--device", "tensorrt", "--restorer", "facefix-usm-512"],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("--device tensorrt"), "{err}");
    assert!(err.contains("no TensorRT execution provider"), "{err}");
}

#[test]
fn the_detector_flag_chooses_retinaface_and_its_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("out.png");
    let meta_of = |detector: &str| -> Value {
        let json = dir.path().join(format!("{detector}.json"));
        let json_arg = json.display().to_string();
        let out = restore(
            &testdata("images/astronaut.png"),
            &output,
            &[
                "--upscale",
                "1",
                "--detector",
                detector,
                "--json",
                &json_arg,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{detector}: {}", stderr(&out));
        serde_json::from_str(&std::fs::read_to_string(&json).expect("META.json")).expect("json")
    };
    let retina = meta_of("retinaface");
    assert_eq!(retina["num_faces"], 1, "{retina}");
    assert_eq!(retina["detector_stats"]["priors"], 10752, "{retina}");
    assert_eq!(retina["detector_stats"]["after_nms"], 1, "{retina}");
    assert!(retina["detector_stats"].get("after_onet").is_none());
    // MTCNN jobs keep the fields they always had.
    let mtcnn = meta_of("mtcnn");
    assert_eq!(mtcnn["detector_stats"]["after_onet"], 1, "{mtcnn}");
    assert!(mtcnn["detector_stats"].get("priors").is_none());
}

#[test]
fn a_missing_retinaface_model_stops_the_start_naming_the_setup_script() {
    // A models directory with the manifest only: MTCNN would be missing too, but only
    // the chosen detector is loaded, so the error is about RetinaFace.
    let models = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        repo().join("models/manifest.toml"),
        models.path().join("manifest.toml"),
    )
    .expect("copy manifest");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_facefix"))
        .arg("restore")
        .arg(testdata("images/astronaut.png"))
        .arg(out_dir.path().join("out.png"))
        .arg("--models-dir")
        .arg(models.path())
        .arg("--restorer")
        .arg(repo().join("models/test/restorer_asym_512.onnx"))
        .args(["--device", "cpu", "--detector", "retinaface"])
        .output()
        .unwrap_or_else(|e| panic!("running facefix restore: {e}"));
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("retinaface_mnet025.onnx") && err.contains("scripts/setup-models.sh"),
        "{err}"
    );
}
