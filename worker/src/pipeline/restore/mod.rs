//! Face restoration: any ONNX model with the GFPGAN I/O contract, or an enlarging one
//! (Real-ESRGAN), on session threads that batch faces within a job and across jobs; the
//! enlarging ones also upsample whole backgrounds in tiles.

mod batcher;
pub mod crops;
mod enlarge;
pub mod spec;
pub mod tensor;
pub mod tiles;

pub use batcher::BatchPolicy;
pub use spec::{DEFAULT_FIDELITY, RestorerSpec};

use super::error::PipelineError;
use super::inference::runtime::{self, ActiveDevice, RuntimeError, SessionOptions};
use super::inference::session::{self, TensorF32};
use super::inference::session_threads::{self, SessionThreads};
use super::inference::tensorrt::Profile;
use crossbeam_channel::unbounded;
use facefix_shared::models::{ModelEntry, Precision};
use ort::environment::Environment;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Handle to one restorer's session threads. Cloning shares them.
#[derive(Clone)]
pub struct Restorer {
    spec: Arc<RestorerSpec>,
    threads: SessionThreads<batcher::Request>,
    /// Bounds the requests queued or running: the channel's capacity, awaited without
    /// blocking the async side.
    slots: Arc<Semaphore>,
    device: ActiveDevice,
    /// What `--precision` asked for (with TensorRT, the fp32 file built in fp16).
    precision: Precision,
}

/// Where a restorer comes from.
pub enum RestorerSource<'a> {
    /// A manifest entry (file under the models directory, sha256-checked).
    Manifest(&'a ModelEntry),
    /// An ONNX file given by path; its entry is derived from the graph.
    Path(&'a Path),
}

impl Restorer {
    /// Loads the model on `sessions` threads, each with its own session, after checking
    /// the file (sha256) and its graph (against the manifest entry).
    pub fn start(
        env: &Environment,
        models_dir: &Path,
        source: RestorerSource<'_>,
        opts: &SessionOptions,
        sessions: usize,
        batch_cap: Option<u32>,
        policy: BatchPolicy,
    ) -> Result<Self, RuntimeError> {
        let sessions = sessions.max(1);
        let precision = opts.file_precision();
        let (path, entry) = match source {
            RestorerSource::Manifest(e) => {
                // The fp16 variant shares the entry's I/O; only the file and its sha256
                // differ.
                let e = e.at_precision(precision)?;
                let p = e.path_in(models_dir);
                runtime::verify_model_file(&p, e.manifest_sha256())?;
                (p, Some(e))
            }
            RestorerSource::Path(p) if precision == Precision::Fp16 => {
                return Err(RuntimeError::Config(format!(
                    "--precision fp16: {} is a file, not a manifest model with an fp16 \
                     variant; pass the converted file itself (models/convert_fp16.py) with \
                     --precision fp32",
                    p.display()
                )));
            }
            RestorerSource::Path(p) => {
                runtime::verify_model_file(p, None)?;
                (p.to_path_buf(), None)
            }
        };
        let mut opts = opts.clone();
        opts.trt_profile = entry.as_ref().map(|e| {
            let batch = batch_cap.map_or(e.max_batch, |c| c.min(e.max_batch));
            Profile::for_restorer(
                e.image_input(),
                batch,
                e.size,
                e.scale,
                opts.trt.max_tile_side,
            )
        });
        let opts = &opts;
        let (tx, rx) = unbounded();
        let mut threads = session_threads::Builder::new(tx);
        let mut spec: Option<Arc<RestorerSpec>> = None;
        let mut device = ActiveDevice::Cpu;
        for i in 0..sessions {
            let (session, dev) = runtime::build_session(env, &path, opts)?;
            device = dev;
            let inputs = session::inputs(&session);
            let entry = match &entry {
                Some(e) => e.clone(),
                None => spec::entry_for_path(&path, &inputs)?,
            };
            let s = Arc::new(spec::check(
                &entry,
                &path,
                &inputs,
                &session::outputs(&session),
                batch_cap,
            )?);
            let mut thread_policy = policy.clone();
            thread_policy.max_batch = s.max_batch;
            let (rx, thread_spec) = (rx.clone(), Arc::clone(&s));
            threads
                .spawn(format!("restorer-{i}"), move || {
                    batcher::serve(session, thread_spec, rx, thread_policy);
                })
                .map_err(|e| {
                    RuntimeError::Config(format!("cannot spawn a restorer thread: {e}"))
                })?;
            spec = Some(s);
        }
        let spec = spec.ok_or_else(|| RuntimeError::Config("no restorer session".into()))?;
        tracing::info!(
            model = %spec.name, size = spec.size, max_batch = spec.max_batch,
            fidelity = spec.fidelity.is_some(), sessions, device = device.as_str(),
            precision = opts.precision.as_str(), "restorer loaded"
        );
        let slots = sessions * (2 * spec.max_batch).max(4);
        Ok(Self {
            spec,
            threads: threads.finish(),
            // Enough queued requests to fill every session's current and next batch (two
            // full batches each; fewer starved cross-job batching: 8-face batches never
            // formed from 1-face jobs), no more: the rest wait here, in the async world,
            // not in memory of the inference side.
            slots: Arc::new(Semaphore::new(slots)),
            device,
            precision: opts.precision,
        })
    }

    pub fn spec(&self) -> &RestorerSpec {
        &self.spec
    }

    pub fn device(&self) -> ActiveDevice {
        self.device
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Restores normalised faces ([n, 3, S, S], from [`tensor::preprocess`]; any
    /// [n, 3, H, W] for an enlarging model, whose reply is [n, 3, kH, kW]); the reply of
    /// a fixed-size model has the input's shape. Never blocks the calling async task's
    /// thread.
    pub async fn run(
        &self,
        input: TensorF32,
        fidelity: Option<f32>,
    ) -> Result<TensorF32, PipelineError> {
        let s = self.spec.size as usize;
        let shape_ok = match (self.spec.scale, &input.shape[..]) {
            (None, [_, 3, h, w]) => *h == s && *w == s,
            (Some(_), [_, 3, h, w]) => *h > 0 && *w > 0,
            _ => false,
        };
        if !shape_ok {
            return Err(PipelineError::Internal(format!(
                "restorer input shape {:?}, expected [n, 3, {s}, {s}] (any H, W when it enlarges)",
                input.shape
            )));
        }
        if input.shape[0] == 0 {
            return Ok(input);
        }
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| PipelineError::Transient("the restorer is shutting down".into()))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let fidelity = fidelity.map_or(DEFAULT_FIDELITY, |f| f64::from(f.clamp(0.0, 1.0)));
        self.threads
            .sender()
            .send(batcher::Request {
                input,
                fidelity,
                span: tracing::Span::current(),
                reply,
                permit,
            })
            .map_err(|_| PipelineError::Transient("the restorer threads have stopped".into()))?;
        rx.await
            .map_err(|_| PipelineError::Transient("a restorer thread died during a run".into()))?
    }
}
