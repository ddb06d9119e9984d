//! The three MTCNN sessions, on their own OS threads behind a bounded channel.
//!
//! Each detector thread owns one PNet, one RNet and one ONet session (together ~2 MB);
//! callers are the pipeline's blocking stage threads, which send a command carrying the
//! tracing span and a reply sender, then wait for the reply. The async runtime never
//! waits here.

use crate::pipeline::detect::contract;
use crate::pipeline::error::PipelineError;
use crate::pipeline::inference::runtime::{self, ActiveDevice, RuntimeError, SessionOptions};
use crate::pipeline::inference::session::{self, Feed, IoInfo, TensorF32};
use crate::pipeline::inference::session_threads::{self, SessionThreads};
use crossbeam_channel::{Receiver, Sender, bounded};
use facefix_shared::models::{Layout, ModelEntry, ModelRole};
use ort::environment::Environment;
use ort::session::Session;
use std::path::Path;

/// One of the three nets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    P,
    R,
    O,
}

/// What a net returns: box regression, face probability, landmarks (ONet only), each as
/// ONNX Runtime gives it (spatial axes still swapped for PNet).
#[derive(Debug)]
pub struct NetOutput {
    pub reg: TensorF32,
    pub prob: TensorF32,
    pub landmarks: Option<TensorF32>,
}

/// A run in flight (see [`MtcnnNets::submit`]).
pub struct Pending(Receiver<Result<NetOutput, PipelineError>>);

struct Command {
    net: Net,
    input: TensorF32,
    span: tracing::Span,
    reply: Sender<Result<NetOutput, PipelineError>>,
}

/// Output names of one net, recognised by their last dimension like the reference does.
#[derive(Debug, Clone)]
struct NetIo {
    input: String,
    reg: String,
    prob: String,
    landmarks: Option<String>,
    max_batch: usize,
}

struct NetSessions {
    p: (Session, NetIo),
    r: (Session, NetIo),
    o: (Session, NetIo),
}

/// Handle to the detector threads. Cloning shares them.
#[derive(Clone)]
pub struct MtcnnNets {
    workers: SessionThreads<Command>,
    pub device: ActiveDevice,
    rnet_max_batch: usize,
    onet_max_batch: usize,
    threads: usize,
}

impl MtcnnNets {
    /// Loads the nets (checked against the manifest) on `threads` detector threads.
    pub fn start(
        env: &Environment,
        models_dir: &Path,
        entries: [&ModelEntry; 3],
        opts: &SessionOptions,
        threads: usize,
    ) -> Result<Self, RuntimeError> {
        let threads = threads.max(1);
        let (tx, rx) = bounded::<Command>(threads * 4);
        let mut workers = session_threads::Builder::new(tx);
        let mut device = ActiveDevice::Cpu;
        let mut max_batches = (1, 1);
        for i in 0..threads {
            let sessions = load_all(env, models_dir, entries, opts)?;
            device = sessions.1;
            max_batches = (sessions.0.r.1.max_batch, sessions.0.o.1.max_batch);
            let rx = rx.clone();
            workers
                .spawn(format!("mtcnn-{i}"), move || serve(sessions.0, rx))
                .map_err(|e| {
                    RuntimeError::Config(format!("cannot spawn a detector thread: {e}"))
                })?;
        }
        Ok(Self {
            workers: workers.finish(),
            device,
            rnet_max_batch: max_batches.0,
            onet_max_batch: max_batches.1,
            threads,
        })
    }

    /// Detector threads (sessions): work split into this many parts runs in parallel.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The most crops per RNet / ONet run (larger candidate sets are split).
    pub fn max_batch(&self, net: Net) -> usize {
        match net {
            Net::P => 1,
            Net::R => self.rnet_max_batch,
            Net::O => self.onet_max_batch,
        }
    }

    /// Runs a net and waits for its output. Blocks: call from a blocking thread.
    pub fn run(&self, net: Net, input: TensorF32) -> Result<NetOutput, PipelineError> {
        Self::wait(self.submit(net, input)?)
    }

    /// Queues a run (blocking while the queue is full) and returns where its output will
    /// arrive, so that several runs can be in flight on the detector threads.
    pub fn submit(&self, net: Net, input: TensorF32) -> Result<Pending, PipelineError> {
        let (reply, rx) = bounded(1);
        let cmd = Command {
            net,
            input,
            span: tracing::Span::current(),
            reply,
        };
        contract::send(&self.workers, cmd)?;
        Ok(Pending(rx))
    }

    /// Waits for a submitted run.
    pub fn wait(pending: Pending) -> Result<NetOutput, PipelineError> {
        contract::receive(&pending.0)
    }
}

fn serve(mut nets: NetSessions, rx: Receiver<Command>) {
    while let Ok(cmd) = rx.recv() {
        let _enter = cmd.span.enter();
        let (session, io) = match cmd.net {
            Net::P => (&mut nets.p.0, &nets.p.1),
            Net::R => (&mut nets.r.0, &nets.r.1),
            Net::O => (&mut nets.o.0, &nets.o.1),
        };
        let result = run_net(session, io, cmd.input);
        // The caller may have gone (cancelled job): nothing to do then.
        let _ = cmd.reply.send(result);
    }
}

fn run_net(
    session: &mut Session,
    io: &NetIo,
    input: TensorF32,
) -> Result<NetOutput, PipelineError> {
    let mut wanted = vec![io.reg.clone(), io.prob.clone()];
    wanted.extend(io.landmarks.clone());
    let mut outs = session::run(session, vec![(io.input.clone(), Feed::F32(input))], &wanted)
        .map_err(|m| PipelineError::from_run_error(format!("MTCNN: {m}")))?
        .into_iter();
    match (outs.next(), outs.next()) {
        (Some(reg), Some(prob)) => Ok(NetOutput {
            reg,
            prob,
            landmarks: outs.next(),
        }),
        _ => Err(PipelineError::Internal(
            "MTCNN returned too few outputs".into(),
        )),
    }
}

fn load_all(
    env: &Environment,
    dir: &Path,
    [p, r, o]: [&ModelEntry; 3],
    opts: &SessionOptions,
) -> Result<(NetSessions, ActiveDevice), RuntimeError> {
    let (ps, dev) = load_net(env, dir, p, opts)?;
    let (rs, _) = load_net(env, dir, r, opts)?;
    let (os, _) = load_net(env, dir, o, opts)?;
    Ok((
        NetSessions {
            p: ps,
            r: rs,
            o: os,
        },
        dev,
    ))
}

fn load_net(
    env: &Environment,
    dir: &Path,
    entry: &ModelEntry,
    opts: &SessionOptions,
) -> Result<((Session, NetIo), ActiveDevice), RuntimeError> {
    let path = entry.path_in(dir);
    runtime::verify_model_file(&path, entry.manifest_sha256())?;
    let (session, device) = runtime::build_session(env, &path, opts)?;
    let io = check_net(
        entry,
        &session::inputs(&session),
        &session::outputs(&session),
    )?;
    Ok(((session, io), device))
}

/// Start-up check of an MTCNN net against its manifest entry.
fn check_net(
    entry: &ModelEntry,
    inputs: &[IoInfo],
    outputs: &[IoInfo],
) -> Result<NetIo, RuntimeError> {
    let fail = |message: String| contract::fail(entry, message);
    let input = contract::image_input(entry, inputs, Layout::Nwhc)?;
    let size = i64::from(entry.size);
    if size > 0
        && (input.shape[1] > 0 && input.shape[1] != size
            || input.shape[2] > 0 && input.shape[2] != size)
    {
        return Err(fail(format!(
            "input {} is not {size}x{size}",
            input.describe()
        )));
    }
    let by_last = |d: i64| {
        outputs
            .iter()
            .find(|o| o.shape.last() == Some(&d) && o.is_f32())
            .map(|o| o.name.clone())
    };
    let (reg, prob) = match (by_last(4), by_last(2)) {
        (Some(r), Some(p)) => (r, p),
        _ => {
            let got: Vec<String> = outputs.iter().map(IoInfo::describe).collect();
            return Err(fail(format!(
                "outputs {got:?} lack the regression [..,4] or probability [..,2]"
            )));
        }
    };
    let landmarks = by_last(10);
    if entry.role == ModelRole::MtcnnOnet && landmarks.is_none() {
        return Err(fail("ONet has no landmark output [..,10]".into()));
    }
    // A fixed batch dimension caps the batch whatever the manifest says.
    let max_batch = match input.shape[0] {
        d if d > 0 => d as usize,
        _ => entry.max_batch as usize,
    };
    Ok(NetIo {
        input: input.name.clone(),
        reg,
        prob,
        landmarks,
        max_batch,
    })
}
