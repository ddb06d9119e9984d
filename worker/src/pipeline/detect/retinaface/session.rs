//! The RetinaFace session(s), each on its own OS thread behind a bounded channel (the
//! same machinery as the MTCNN nets and the restorers): callers are the pipeline's
//! blocking stage threads; the async runtime never waits here.

use crate::pipeline::detect::contract;
use crate::pipeline::error::PipelineError;
use crate::pipeline::inference::runtime::{self, ActiveDevice, RuntimeError, SessionOptions};
use crate::pipeline::inference::session::{self, Feed, IoInfo, TensorF32};
use crate::pipeline::inference::session_threads::{self, SessionThreads};
use crossbeam_channel::{Receiver, Sender, bounded};
use facefix_shared::models::{Layout, ModelEntry};
use ort::environment::Environment;
use ort::session::Session;
use std::path::Path;

/// The graph's outputs, in this order: box offsets [1,P,4], softmax [1,P,2] (column 1 =
/// face), landmark offsets [1,P,10].
pub const OUTPUTS: [(&str, i64); 3] = [("loc", 4), ("conf", 2), ("landmarks", 10)];

/// What one pass returns.
#[derive(Debug)]
pub struct RawOutput {
    pub loc: TensorF32,
    pub conf: TensorF32,
    pub landmarks: TensorF32,
}

struct Command {
    input: TensorF32,
    span: tracing::Span,
    reply: Sender<Result<RawOutput, PipelineError>>,
}

/// Handle to the session threads. Cloning shares them.
#[derive(Clone)]
pub struct RetinaFaceSession {
    workers: SessionThreads<Command>,
    pub device: ActiveDevice,
}

impl RetinaFaceSession {
    /// Loads the model (checked against the manifest) on `threads` session threads, each
    /// session with the intra-op threads of `opts` (one pass is a whole image: worth
    /// spreading over the cores, unlike MTCNN's tiny nets).
    pub fn start(
        env: &Environment,
        models_dir: &Path,
        entry: &ModelEntry,
        opts: &SessionOptions,
        threads: usize,
    ) -> Result<Self, RuntimeError> {
        let threads = threads.max(1);
        let (tx, rx) = bounded::<Command>(threads * 2);
        let mut workers = session_threads::Builder::new(tx);
        let mut device = ActiveDevice::Cpu;
        // One check of the file against the manifest, then one session per thread.
        let path = entry.path_in(models_dir);
        runtime::verify_model_file(&path, entry.manifest_sha256())?;
        for i in 0..threads {
            let (session, dev) = runtime::build_session(env, &path, opts)?;
            check_contract(
                entry,
                &session::inputs(&session),
                &session::outputs(&session),
            )?;
            device = dev;
            let rx = rx.clone();
            let input = entry.image_input().to_string();
            workers
                .spawn(format!("retinaface-{i}"), move || serve(session, input, rx))
                .map_err(|e| {
                    RuntimeError::Config(format!("cannot spawn a detector thread: {e}"))
                })?;
        }
        Ok(Self {
            workers: workers.finish(),
            device,
        })
    }

    /// Runs one pass and waits for it. Blocks: call from a blocking thread.
    pub fn run(&self, input: TensorF32) -> Result<RawOutput, PipelineError> {
        let (reply, rx) = bounded(1);
        let cmd = Command {
            input,
            span: tracing::Span::current(),
            reply,
        };
        contract::send(&self.workers, cmd)?;
        contract::receive(&rx)
    }
}

fn serve(mut session: Session, input: String, rx: Receiver<Command>) {
    let wanted: Vec<String> = OUTPUTS.iter().map(|(n, _)| (*n).to_string()).collect();
    while let Ok(cmd) = rx.recv() {
        let _enter = cmd.span.enter();
        let result = session::run(
            &mut session,
            vec![(input.clone(), Feed::F32(cmd.input))],
            &wanted,
        )
        .map_err(|m| PipelineError::from_run_error(format!("RetinaFace: {m}")))
        .and_then(|outs| match <[TensorF32; 3]>::try_from(outs) {
            Ok([loc, conf, landmarks]) => Ok(RawOutput {
                loc,
                conf,
                landmarks,
            }),
            Err(_) => Err(PipelineError::Internal(
                "RetinaFace returned too few outputs".into(),
            )),
        });
        // The caller may have gone (cancelled job): nothing to do then.
        let _ = cmd.reply.send(result);
    }
}

/// Start-up check of the graph against its manifest entry: one float32 NCHW image
/// input with 3 channels, and the three outputs by name and last dimension.
fn check_contract(
    entry: &ModelEntry,
    inputs: &[IoInfo],
    outputs: &[IoInfo],
) -> Result<(), RuntimeError> {
    contract::image_input(entry, inputs, Layout::Nchw)?;
    for (name, last) in OUTPUTS {
        let ok = outputs
            .iter()
            .any(|o| o.name == name && o.is_f32() && o.shape.last() == Some(&last));
        if !ok {
            let got: Vec<String> = outputs.iter().map(IoInfo::describe).collect();
            return Err(contract::fail(
                entry,
                format!("outputs {got:?} lack {name} float32 [..,{last}]"),
            ));
        }
    }
    Ok(())
}
