//! `facefix restore`: the offline CLI over the same pipeline the worker runs. Loads the
//! models, restores one file, writes OUTPUT (the format follows its extension; nothing of
//! the input's metadata is written), optionally META.json and a `--bench` table.

mod bench;
mod meta;

use crate::cli::RestoreArgs;
use bench::Bench;
use bytes::Bytes;
use facefix_shared::job::ImageFormat;
use facefix_shared::time::elapsed_ms;
use facefix_worker::pipeline::inference::runtime::RuntimeError;
use facefix_worker::pipeline::{
    FacePipeline, NoStageObserver, PipelineError, Request, Restored, Timings,
};
use meta::Meta;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Why `facefix restore` failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{input}: {source} [{}]", source.code())]
    Pipeline {
        input: PathBuf,
        source: PipelineError,
    },
    #[error(transparent)]
    Models(#[from] RuntimeError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RestoreError {
    /// Process exit status: 2 for a bad input, request or usage (like the reference),
    /// 1 for everything else (models, I/O, internal).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Pipeline {
                source: PipelineError::Input { .. } | PipelineError::Model(_),
                ..
            } => 2,
            _ => 1,
        }
    }
}

/// The format an output path asks for.
fn format_for_path(path: &Path) -> Result<ImageFormat, RestoreError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => Ok(ImageFormat::Png),
        "jpg" | "jpeg" | "jpe" => Ok(ImageFormat::Jpeg),
        "webp" => Ok(ImageFormat::Webp),
        _ => Err(RestoreError::Usage(format!(
            "{}: the output must end in .png, .jpg, .jpeg or .webp",
            path.display()
        ))),
    }
}

/// Runs the offline restore on its own async runtime (called from `main`, outside any
/// runtime): loads the models, processes the image, writes OUTPUT (and META.json), prints
/// one summary line (and the bench table with `--bench`).
pub fn run(args: &RestoreArgs) -> Result<(), RestoreError> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RestoreError::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run_async(args.clone()))
}

/// Warnings (e.g. `--device auto` falling back to CPU) on stderr. `FACEFIX_LOG` overrides
/// the filter.
fn init_logging() {
    let filter = std::env::var("FACEFIX_LOG").unwrap_or_else(|_| "warn,ort=error".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

async fn run_async(args: RestoreArgs) -> Result<(), RestoreError> {
    let format = format_for_path(&args.output)?;
    let model_args = args.model.clone();
    let t = Instant::now();
    let pipeline = tokio::task::spawn_blocking(move || FacePipeline::load(&model_args))
        .await
        .map_err(|e| RestoreError::Internal(format!("model loading panicked: {e}")))??
        .with_decode_limits(args.limits)
        .with_quality(args.quality);
    let load_ms = elapsed_ms(t);
    let req = Request {
        restorer: None,
        upscale: u32::from(args.upscale),
        aligned: args.aligned,
        only_center_face: args.only_center_face,
        fidelity: args.fidelity,
        format: Some(format),
        bg_upsampler: (args.bg_upsampler != "none").then(|| args.bg_upsampler.clone()),
    };
    let (restored, timings) = once(&pipeline, &args, &req).await?;
    let mut meta = Meta::new(&restored, &timings, &args, &pipeline, load_ms);
    if args.bench > 0 {
        let mut runs = Vec::with_capacity(args.bench);
        for _ in 0..args.bench {
            runs.push(once(&pipeline, &args, &req).await?.1);
        }
        let bench = Bench::from_runs(&runs);
        print!("{}", bench.table(&file_name(&args.input), &restored));
        meta.bench = Some(bench);
    }
    if let Some(path) = &args.json {
        let mut text = serde_json::to_string_pretty(&meta)
            .map_err(|e| RestoreError::Internal(e.to_string()))?;
        text.push('\n');
        write_file(path, text.as_bytes())?;
    }
    let what = if args.aligned {
        "aligned crop restored".to_string()
    } else {
        format!(
            "{} face(s) restored ({} detected)",
            restored.faces.len(),
            restored.num_detected
        )
    };
    println!(
        "{}: {}x{} -> {}x{}, {what}, total {:.1} ms",
        file_name(&args.input),
        restored.input_width,
        restored.input_height,
        restored.width,
        restored.height,
        timings.total
    );
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One run, with the file read counted in `decode` and the write in `encode` (as the
/// reference counts them).
async fn once(
    pipeline: &FacePipeline,
    args: &RestoreArgs,
    req: &Request,
) -> Result<(Restored, Timings), RestoreError> {
    let t = Instant::now();
    let bytes = std::fs::read(&args.input).map_err(|source| RestoreError::Io {
        path: args.input.clone(),
        source,
    })?;
    let read_ms = elapsed_ms(t);
    let restored = pipeline
        .run(Bytes::from(bytes), req, Arc::new(NoStageObserver))
        .await
        .map_err(|source| RestoreError::Pipeline {
            input: args.input.clone(),
            source,
        })?;
    let t = Instant::now();
    write_file(&args.output, &restored.bytes)?;
    let write_ms = elapsed_ms(t);
    let mut timings = restored.timings;
    timings.decode += read_ms;
    timings.encode += write_ms;
    timings.total += read_ms + write_ms;
    Ok((restored, timings))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RestoreError> {
    let io = |source| RestoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::ErrorCode;

    #[test]
    fn the_output_extension_names_the_format() {
        let format = |p: &str| format_for_path(Path::new(p)).ok();
        assert_eq!(format("out/a.PNG"), Some(ImageFormat::Png));
        assert_eq!(format("a.jpe"), Some(ImageFormat::Jpeg));
        assert_eq!(format("a.webp"), Some(ImageFormat::Webp));
        assert!(matches!(
            format_for_path(Path::new("a.bmp")),
            Err(RestoreError::Usage(_))
        ));
    }

    #[test]
    fn bad_inputs_exit_2_and_everything_else_1() {
        let pipeline = |source| RestoreError::Pipeline {
            input: PathBuf::from("x.png"),
            source,
        };
        let input = PipelineError::input(ErrorCode::CorruptImage, "cut short");
        assert_eq!(pipeline(input).exit_code(), 2);
        assert_eq!(
            pipeline(PipelineError::Model("shape".into())).exit_code(),
            2
        );
        assert_eq!(
            pipeline(PipelineError::Transient("oom".into())).exit_code(),
            1
        );
        assert_eq!(RestoreError::Usage("x".into()).exit_code(), 2);
        let io = RestoreError::Io {
            path: PathBuf::from("x"),
            source: std::io::Error::other("denied"),
        };
        assert_eq!(io.exit_code(), 1);
    }
}
