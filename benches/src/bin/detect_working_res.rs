//! Detection at working resolution against full resolution, on every test photo: for
//! each `--detect-max-side` value, the faces found (matched to the full-resolution ones
//! by IoU >= 0.5), missed and extra faces, landmark distances in source pixels, the
//! detection time (median of `--runs`), and the PSNR of the whole restored output
//! (upscale 2) against the full-resolution pipeline's. Prints a markdown table
//! (docs/pipeline.md, "Detection at working resolution").
//!
//! Models load through `ModelArgs`, so every model flag applies (the restorer defaults to
//! the built `facefix-usm-512`). Needs scripts/setup-models.sh and scripts/setup-testdata.sh.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use facefix_shared::intake::ImageLimits;
use facefix_shared::job::ImageFormat;
use facefix_worker::pipeline::{Face, FacePipeline, ModelArgs, NoStageObserver, Request, stages};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Face detection at working resolution against full resolution")]
struct Cli {
    #[command(flatten)]
    model: ModelArgs,

    /// Folder of test photos (every file in it; formats the decoder refuses are listed).
    #[arg(long, env = "FACEFIX_BENCH_IMAGES", default_value = "testdata/images")]
    images: PathBuf,

    /// Working long sides to compare with full resolution (0 = full resolution itself).
    #[arg(
        long,
        env = "FACEFIX_BENCH_SIDES",
        value_delimiter = ',',
        default_value = "640,960,1280,1600,2048"
    )]
    sides: Vec<u32>,

    /// Detection runs per image and side (the median is reported).
    #[arg(long, env = "FACEFIX_BENCH_RUNS", default_value_t = 3)]
    runs: usize,

    /// Upscale of the restored outputs compared by PSNR.
    #[arg(long, env = "FACEFIX_BENCH_UPSCALE", default_value_t = 2)]
    upscale: u32,
}

/// How one working side compares with full resolution on one image.
struct Row {
    matched: usize,
    missed: usize,
    extra: usize,
    lm_max: f64,
    lm_mean: f64,
    kept_unrefined: usize,
    working: String,
    detect_ms: f64,
    psnr: f64,
}

fn main() -> Result<()> {
    let mut cli = Cli::parse();
    cli.model
        .restorer
        .get_or_insert_with(|| "facefix-usm-512".into());
    let mut sides = vec![0];
    sides.extend(cli.sides.iter().copied().filter(|&s| s != 0));
    let pipelines = sides
        .iter()
        .map(|&side| {
            let args = ModelArgs {
                detect_max_side: side,
                ..cli.model.clone()
            };
            FacePipeline::load(&args).with_context(|| format!("loading the models (side {side})"))
        })
        .collect::<Result<Vec<_>>>()?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cli.images)
        .with_context(|| format!("listing {}", cli.images.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    println!(
        "| image | max side | working size | faces (full) | matched | missed | extra | lm max px | lm mean px | kept unrefined | detect ms | speed-up | PSNR dB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut refused = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let bytes = std::fs::read(&path)?;
        let Ok(decoded) = stages::decode(&bytes, &ImageLimits::default()) else {
            refused.push(name);
            continue;
        };
        let rgb = decoded.rgb;
        let (w, h) = rgb.dimensions();
        let mut full: Option<(Vec<Face>, f64, image::RgbImage)> = None;
        for (&side, pipeline) in sides.iter().zip(&pipelines) {
            let engine = pipeline.engine();
            let mut times = Vec::with_capacity(cli.runs.max(1));
            let mut result = None;
            for _ in 0..cli.runs.max(1) {
                let t = Instant::now();
                result = Some(engine.detect_faces(&rgb, side)?);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let Some((faces, stats)) = result else {
                bail!("no detection ran");
            };
            let detect_ms = median(&mut times);
            let output = restore(&rt, pipeline, &bytes, cli.upscale)?;
            let Some((full_faces, full_ms, full_out)) = &full else {
                println!(
                    "| {name} | off | {w}×{h} | {} | – | – | – | – | – | – | {detect_ms:.0} | 1.00 | – |",
                    faces.len()
                );
                full = Some((faces, detect_ms, output));
                continue;
            };
            let working = stats.working_resolution();
            let mut row = compare(full_faces, &faces);
            row.kept_unrefined = working.map_or(0, |r| r.kept_unrefined);
            row.working = working.map_or_else(
                || "(full)".to_string(),
                |r| format!("{}×{}", r.width, r.height),
            );
            row.detect_ms = detect_ms;
            row.psnr = psnr(full_out, &output)?;
            println!(
                "| {name} | {side} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {} |",
                row.working,
                full_faces.len(),
                row.matched,
                row.missed,
                row.extra,
                px(row.lm_max, row.matched),
                px(row.lm_mean, row.matched),
                row.kept_unrefined,
                row.detect_ms,
                full_ms / row.detect_ms,
                if row.psnr.is_infinite() {
                    "identical".to_string()
                } else {
                    format!("{:.2}", row.psnr)
                }
            );
        }
    }
    if !refused.is_empty() {
        println!("\nnot decoded (refused formats): {}", refused.join(", "));
    }
    Ok(())
}

fn px(v: f64, matched: usize) -> String {
    if matched == 0 {
        "–".into()
    } else {
        format!("{v:.2}")
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The whole pipeline, as `facefix restore IN OUT.png --upscale N` runs it: the output
/// decoded back to RGB.
fn restore(
    rt: &tokio::runtime::Runtime,
    pipeline: &FacePipeline,
    bytes: &[u8],
    upscale: u32,
) -> Result<image::RgbImage> {
    let req = Request {
        upscale,
        format: Some(ImageFormat::Png),
        ..Request::default()
    };
    let out = rt.block_on(pipeline.run(
        Bytes::copy_from_slice(bytes),
        &req,
        Arc::new(NoStageObserver),
    ))?;
    // Not the pipeline's decoder: a ×2 output is over its input limits.
    Ok(image::load_from_memory(&out.bytes)?.to_rgb8())
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// Greedy matching, full-resolution faces in score order, each to the unmatched found face
/// of highest IoU (>= 0.5); landmark distances over the matched pairs.
fn compare(full: &[Face], found: &[Face]) -> Row {
    let mut taken = vec![false; found.len()];
    let mut dists = Vec::new();
    let mut matched = 0;
    for f in full {
        let best = (0..found.len())
            .filter(|&j| !taken[j])
            .map(|j| (j, iou(&f.bbox, &found[j].bbox)))
            .filter(|&(_, o)| o >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, _)) = best {
            taken[j] = true;
            matched += 1;
            for (p, q) in f.landmarks.iter().zip(&found[j].landmarks) {
                dists.push((p[0] - q[0]).hypot(p[1] - q[1]));
            }
        }
    }
    Row {
        matched,
        missed: full.len() - matched,
        extra: found.len() - matched,
        lm_max: dists.iter().copied().fold(0.0, f64::max),
        lm_mean: dists.iter().sum::<f64>() / dists.len().max(1) as f64,
        kept_unrefined: 0,
        working: String::new(),
        detect_ms: 0.0,
        psnr: f64::INFINITY,
    }
}

fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> Result<f64> {
    if a.dimensions() != b.dimensions() {
        bail!(
            "outputs differ in size: {:?} vs {:?}",
            a.dimensions(),
            b.dimensions()
        );
    }
    let sse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sse / a.as_raw().len() as f64;
    Ok(10.0 * (255.0f64 * 255.0 / mse).log10())
}
