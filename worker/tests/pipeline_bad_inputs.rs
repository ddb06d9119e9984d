//! Every file of `testdata/bad/` through the pipeline as `facefix restore` runs
//! it (the built restorer, output format from the file name): a clean input error (the
//! CLI's exit status 2) with a message, or a correct output; never a panic, a hang or
//! unbounded memory; and outputs carry no metadata at all.

mod pipeline_support;

use bytes::Bytes;
use facefix_shared::ErrorCode;
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::{FacePipeline, NoStageObserver, PipelineError, Request};
use pipeline_support::{model_args, testdata};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Per file: decode limits must refuse bombs long before this.
const MAX_SECONDS: u64 = 60;
/// Peak resident memory of this test process (bounded: bombs are refused from headers).
const MAX_RSS_GIB: f64 = 3.0;

/// The built restorer on the CPU, loaded once: these files test decoding and limits, and
/// the learned default would spend minutes of CPU on the faces of those that decode.
fn pipeline() -> &'static FacePipeline {
    static PIPELINE: OnceLock<FacePipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        FacePipeline::load(&model_args(Some(Path::new("facefix-usm-512"))))
            .unwrap_or_else(|e| panic!("loading models: {e}"))
    })
}

/// The format `facefix restore` writes for an output file name.
fn format_of(output: &Path) -> ImageFormat {
    match output.extension().and_then(|e| e.to_str()) {
        Some("jpg") => ImageFormat::Jpeg,
        Some("webp") => ImageFormat::Webp,
        _ => ImageFormat::Png,
    }
}

/// `facefix restore INPUT OUTPUT --upscale N`: reads INPUT, writes OUTPUT.
fn restore(input: &Path, output: &Path, upscale: u32) -> Result<(), PipelineError> {
    let bytes = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let req = Request {
        upscale,
        format: Some(format_of(output)),
        ..Request::default()
    };
    let restored = pipeline_support::rt().block_on(pipeline().run(
        Bytes::from(bytes),
        &req,
        Arc::new(NoStageObserver),
    ))?;
    std::fs::write(output, &restored.bytes).unwrap_or_else(|e| panic!("{}: {e}", output.display()));
    Ok(())
}

fn peak_rss_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0))
}

/// What each file must give: Ok, or an error with this code.
fn expected(name: &str) -> Option<ErrorCode> {
    match name {
        "empty.jpg" => Some(ErrorCode::EmptyUpload),
        "not_an_image.jpg" => Some(ErrorCode::UnsupportedFormat),
        "animated_4frames.gif" => Some(ErrorCode::UnsupportedFormat),
        "truncated.jpg" | "truncated_header_only.jpg" => Some(ErrorCode::CorruptImage),
        "jpeg_sof_65000x65000.jpg"
        | "bomb_60000x60000_1bit_valid.png"
        | "bomb_60000x60000_rgb_header_claim.png"
        | "bomb_12000x12000_1bit_below_pillow_limit.png" => Some(ErrorCode::TooManyPixels),
        _ => None,
    }
}

#[test]
fn every_bad_file_gives_a_clean_error_or_a_correct_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("bad"))
        .unwrap_or_else(|e| panic!("list: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "expected the bad/ files, found {}",
        files.len()
    );
    let mut report = Vec::new();
    for input in &files {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output = dir.path().join(format!("{name}.out.png"));
        let t = Instant::now();
        let result = restore(input, &output, 2);
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(MAX_SECONDS),
            "{name} took {took:?}"
        );
        match (&result, expected(&name)) {
            (Err(e), want) => {
                let msg = e.to_string();
                assert!(
                    matches!(e, PipelineError::Input { .. }) && !msg.is_empty(),
                    "{name}: not an input error (exit status 2) with a message: {e:?}"
                );
                if let Some(code) = want {
                    assert_eq!(e.code(), code, "{name}: {msg}");
                } else {
                    panic!("{name}: unexpected failure: {msg}");
                }
                report.push(format!("{name:<48} {} {msg}", e.code()));
            }
            (Ok(()), None) => {
                let out = image::open(&output)
                    .unwrap_or_else(|e| panic!("{name}: output unreadable: {e}"));
                assert!(out.width() > 0 && out.height() > 0);
                report.push(format!("{name:<48} ok {}x{}", out.width(), out.height()));
            }
            (Ok(()), Some(code)) => panic!("{name}: succeeded, expected {code}"),
        }
    }
    println!("{}", report.join("\n"));
    let rss = peak_rss_gib();
    assert!(rss < MAX_RSS_GIB, "peak RSS {rss:.2} GiB");
}

/// Byte patterns of metadata that must not survive (EXIF, GPS, XMP, IPTC, comments, the
/// camera serial number and the city of the test files).
const FORBIDDEN: [&[u8]; 10] = [
    b"Exif",
    b"eXIf",
    b"http://ns.adobe.com",
    b"<x:xmpmeta",
    b"Photoshop 3.0",
    b"SN-0123456789",
    b"Paris",
    b"tEXt",
    b"iTXt",
    b"zTXt",
];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// JPEG markers between SOI and SOS other than the ones an encoder needs.
fn jpeg_metadata_markers(bytes: &[u8]) -> Vec<u8> {
    let mut found = Vec::new();
    let mut p = 2;
    while p + 4 <= bytes.len() && bytes[p] == 0xFF {
        let marker = bytes[p + 1];
        if marker == 0xDA {
            break;
        }
        let len = usize::from(bytes[p + 2]) << 8 | usize::from(bytes[p + 3]);
        // APP1..APP15 (EXIF, XMP, ICC, IPTC ...) and COM; APP0 (JFIF) is allowed.
        if (0xE1..=0xEF).contains(&marker) || marker == 0xFE {
            found.push(marker);
        }
        p += 2 + len;
    }
    found
}

#[test]
fn outputs_carry_no_metadata_and_are_upright() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (name, out_name) in [
        ("exif_orientation6_gps.jpg", "a.jpg"),
        ("exif_orientation6_gps.png", "b.png"),
        ("exif_orientation6_gps.jpg", "c.webp"),
        ("exif_orientation6_gps.png", "d.png"),
    ] {
        let input = testdata().join("bad").join(name);
        let output = dir.path().join(out_name);
        restore(&input, &output, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = std::fs::read(&output).unwrap_or_else(|e| panic!("{out_name}: {e}"));
        for f in FORBIDDEN {
            assert!(
                !contains(&bytes, f),
                "{out_name} from {name} contains {:?}",
                String::from_utf8_lossy(f)
            );
        }
        if out_name.ends_with(".jpg") {
            assert_eq!(
                jpeg_metadata_markers(&bytes),
                Vec::<u8>::new(),
                "{out_name}: metadata markers"
            );
        }
        let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{out_name}: {e}"));
        assert_eq!(
            (img.width(), img.height()),
            (384, 512),
            "{out_name} is upright"
        );
    }
}
