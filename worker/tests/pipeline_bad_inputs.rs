//! Every file of `testdata/bad/` through the CLI: a clean error (non-zero exit
//! status with a message) or a correct output, never a panic, a hang or unbounded
//! memory; and outputs carry no metadata at all.

mod pipeline_support;

use clap::Parser;
use facefix_shared::ErrorCode;
use facefix_worker::restore_cli::{self, RestoreArgs, RestoreCliError};
use pipeline_support::{models_dir, testdata};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    restore: RestoreArgs,
}

/// Per file: decode limits must refuse bombs long before this.
const MAX_SECONDS: u64 = 60;
/// Peak resident memory of this test process (bounded: bombs are refused from headers).
const MAX_RSS_GIB: f64 = 3.0;

fn restore(input: &Path, output: &Path, extra: &[&str]) -> Result<(), RestoreCliError> {
    let mut argv: Vec<String> = vec![
        "restore".into(),
        input.display().to_string(),
        output.display().to_string(),
        "--models-dir".into(),
        models_dir().display().to_string(),
        "--device".into(),
        "cpu".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("arguments: {e}"));
    pipeline_support::rt().block_on(restore_cli::run_async(cli.restore))
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
        let result = restore(input, &output, &[]);
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(MAX_SECONDS),
            "{name} took {took:?}"
        );
        match (&result, expected(&name)) {
            (Err(e), want) => {
                let msg = e.to_string();
                assert!(
                    e.exit_code() != 0 && !msg.is_empty(),
                    "{name}: error without a message/status"
                );
                if let (RestoreCliError::Pipeline { source, .. }, Some(code)) = (e, want) {
                    assert_eq!(source.code(), code, "{name}: {msg}");
                } else {
                    panic!("{name}: unexpected failure: {msg}");
                }
                report.push(format!("{name:<48} exit {} {msg}", e.exit_code()));
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
        restore(&input, &output, &["--upscale", "1"]).unwrap_or_else(|e| panic!("{name}: {e}"));
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
