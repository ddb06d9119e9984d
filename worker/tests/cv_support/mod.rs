//! Shared helpers of the `cv_*` parity tests: run the OpenCV oracle
//! (`tests/fixtures/cv_oracle.py`, in the project's `.venv`) and compare images.
//!
//! Without the venv the parity tests are skipped with a message, except when `CI` is set:
//! there the venv is part of the setup and a missing one is a failure.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (`FACEFIX_ROOT` overrides it, for running these tests from a copy).
pub fn project_root() -> PathBuf {
    match std::env::var_os("FACEFIX_ROOT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
    }
}

/// `testdata/<rel>` in the repository (`scripts/setup-testdata.sh` makes the generated files).
pub fn testdata(rel: &str) -> PathBuf {
    project_root().join("testdata").join(rel)
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FACEFIX_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = project_root().join(".venv/bin/python");
    p.exists().then_some(p)
}

/// The oracle's answer: raw samples and their shape.
pub struct OracleOut {
    pub data: Vec<u8>,
    pub shape: Vec<usize>,
    pub dir: tempfile::TempDir,
    pub out_path: PathBuf,
}

/// An input array for the oracle: raw bytes, shape, numpy dtype name.
pub struct Input<'a> {
    pub bytes: &'a [u8],
    pub shape: Vec<usize>,
    pub dtype: &'static str,
}

pub fn u8_input(bytes: &[u8], shape: Vec<usize>) -> Input<'_> {
    Input {
        bytes,
        shape,
        dtype: "uint8",
    }
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn bytes_f32(v: &[u8]) -> Vec<f32> {
    v.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Runs one oracle request; `None` when the venv is missing outside CI (test skipped).
pub fn oracle(mut req: Value, inputs: &[Input]) -> Option<OracleOut> {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the project .venv for the cv parity tests"
        );
        eprintln!("skipped: no .venv (numpy + opencv-python-headless) for the OpenCV oracle");
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut specs = Vec::new();
    for (i, inp) in inputs.iter().enumerate() {
        let p = dir.path().join(format!("in{i}.bin"));
        std::fs::write(&p, inp.bytes).expect("write input");
        specs.push(json!({"path": p, "shape": inp.shape, "dtype": inp.dtype}));
    }
    let out_path = dir.path().join("out.bin");
    req["inputs"] = Value::Array(specs);
    req["out"] = json!(out_path);
    let req_path = dir.path().join("req.json");
    std::fs::write(&req_path, req.to_string()).expect("write request");
    let script = project_root().join("worker/tests/fixtures/cv_oracle.py");
    let out = Command::new(py)
        .arg(script)
        .arg(&req_path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("oracle json");
    let shape = meta["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|v| v.as_u64().expect("dim") as usize)
        .collect();
    let data = std::fs::read(&out_path).expect("read output");
    Some(OracleOut {
        data,
        shape,
        dir,
        out_path,
    })
}

/// Deterministic pseudo-random bytes (xorshift), for synthetic test images.
pub fn noise_u8(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// Max absolute difference and number of differing samples.
pub fn diff_u8(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len(), "length");
    a.iter().zip(b).fold((0u8, 0usize), |(m, n), (x, y)| {
        let d = x.abs_diff(*y);
        (m.max(d), n + usize::from(d != 0))
    })
}

pub fn psnr_u8(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// Loads an 8-bit RGB test image with the image crate (PNG only: lossless, decoder-agnostic).
pub fn load_rgb(rel: &str) -> image::RgbImage {
    image::open(testdata(rel))
        .expect("open test image")
        .to_rgb8()
}
