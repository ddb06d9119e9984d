//! A restorer session thread: takes requests (the faces of one job) from the shared
//! channel, gathers more waiting requests up to the model's batch limit, runs them
//! together and answers each request with its own faces.
//!
//! Waiting for more faces only pays when another job is about to send some, so the
//! thread waits (at most `max_wait`) only while jobs are upstream of the restore stage
//! (counted by the pipeline); a lone job never waits.

use super::spec::RestorerSpec;
use crate::pipeline::error::PipelineError;
use crate::pipeline::inference::session::{self, Feed, TensorF32};
use crossbeam_channel::Receiver;
use facefix_shared::metrics::metrics;
use ort::session::Session;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The faces of one job (or the tiles of one image).
pub struct Request {
    /// [n, 3, H, W], already normalised; H = W = S for a fixed-size restorer.
    pub input: TensorF32,
    /// Fed to the fidelity input when the model has one.
    pub fidelity: f64,
    pub span: tracing::Span,
    pub reply: tokio::sync::oneshot::Sender<Result<TensorF32, PipelineError>>,
    /// Bounds the requests queued or running (released when this request is answered).
    pub permit: tokio::sync::OwnedSemaphorePermit,
}

impl Request {
    fn faces(&self) -> usize {
        self.input.shape.first().copied().unwrap_or(0)
    }

    /// What must match for requests to share a session run: the fidelity (one scalar per
    /// run) and the item shape (an enlarging model takes inputs of several sizes).
    fn batch_key(&self) -> (u64, &[usize]) {
        (
            self.fidelity.to_bits(),
            self.input.shape.get(1..).unwrap_or(&[]),
        )
    }
}

/// How a thread gathers batches.
#[derive(Debug, Clone)]
pub struct BatchPolicy {
    pub max_batch: usize,
    pub max_wait: Duration,
    /// Jobs that may still send faces (decoding, detecting, aligning).
    pub upstream: Arc<AtomicUsize>,
}

/// Serves requests until every sender is gone.
pub fn serve(
    mut session: Session,
    spec: Arc<RestorerSpec>,
    rx: Receiver<Request>,
    policy: BatchPolicy,
) {
    let mut held: VecDeque<Request> = VecDeque::new();
    loop {
        let first = match held.pop_front() {
            Some(r) => r,
            None => match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let batch = gather(first, &rx, &mut held, &policy);
        run_batch(&mut session, &spec, policy.max_batch, batch);
    }
}

/// Requests to run together: the same fidelity value and item shape (see
/// [`Request::batch_key`]), up to `max_batch` faces, waiting at most `max_wait` while
/// other jobs are upstream.
fn gather(
    first: Request,
    rx: &Receiver<Request>,
    held: &mut VecDeque<Request>,
    policy: &BatchPolicy,
) -> Vec<Request> {
    let key = (first.fidelity.to_bits(), first.input.shape.clone());
    let same = |r: &Request| r.batch_key() == (key.0, &key.1[1..]);
    let mut faces = first.faces();
    let mut batch = vec![first];
    // Requests held back earlier (another fidelity or shape) that now fit.
    let mut i = 0;
    while i < held.len() && faces < policy.max_batch {
        if same(&held[i]) {
            if let Some(r) = held.remove(i) {
                faces += r.faces();
                batch.push(r);
            }
        } else {
            i += 1;
        }
    }
    let deadline = Instant::now() + policy.max_wait;
    while faces < policy.max_batch {
        let next = match rx.try_recv() {
            Ok(r) => Some(r),
            Err(_) if policy.upstream.load(Ordering::Acquire) == 0 => None,
            // Timeout or disconnection alike end the gathering.
            Err(_) => rx.recv_deadline(deadline).ok(),
        };
        let Some(r) = next else { break };
        if same(&r) {
            faces += r.faces();
            batch.push(r);
        } else {
            held.push_back(r);
        }
    }
    batch
}

/// Runs the faces of `batch` (one item shape) in chunks of at most `max_batch` and answers
/// every request.
fn run_batch(session: &mut Session, spec: &RestorerSpec, max_batch: usize, batch: Vec<Request>) {
    let item_shape: Vec<usize> = batch[0].input.shape[1..].to_vec();
    let face_len: usize = item_shape.iter().product();
    // The output item's shape: the input's, times the scale on each side when it enlarges.
    let k = spec.scale.unwrap_or(1) as usize;
    let out_shape = vec![item_shape[0], item_shape[1] * k, item_shape[2] * k];
    let out_len: usize = out_shape.iter().product();
    // (request, face) of every face, in order.
    let index: Vec<(usize, usize)> = batch
        .iter()
        .enumerate()
        .flat_map(|(r, req)| (0..req.faces()).map(move |f| (r, f)))
        .collect();
    let mut outputs: Vec<Vec<f32>> = batch
        .iter()
        .map(|r| vec![0f32; r.faces() * out_len])
        .collect();
    let mut failure: Option<PipelineError> = None;
    let run_span = tracing::info_span!("restore_batch", model = %spec.name, faces = index.len(), requests = batch.len());
    for req in &batch {
        run_span.follows_from(req.span.id());
    }
    let _enter = run_span.enter();
    for chunk in index.chunks(max_batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * face_len);
        for &(r, f) in chunk {
            data.extend_from_slice(&batch[r].input.data[f * face_len..(f + 1) * face_len]);
        }
        let mut shape = vec![chunk.len()];
        shape.extend_from_slice(&item_shape);
        let input = TensorF32::new(shape, data);
        // Faces per session run: shows whether concurrent jobs actually share batches.
        metrics()
            .batch_size
            .with_label_values(&[spec.name.as_str()])
            .observe(chunk.len() as f64);
        match run_once(session, spec, input, batch[chunk[0].0].fidelity) {
            Ok(out) if out.shape[1..] == out_shape[..] && out.shape[0] == chunk.len() => {
                for (i, &(r, f)) in chunk.iter().enumerate() {
                    outputs[r][f * out_len..(f + 1) * out_len]
                        .copy_from_slice(&out.data[i * out_len..(i + 1) * out_len]);
                }
            }
            Ok(out) => {
                failure = Some(PipelineError::Model(format!(
                    "output has shape {:?}, expected [{}, {}]",
                    out.shape,
                    chunk.len(),
                    out_shape
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    for (req, data) in batch.into_iter().zip(outputs) {
        let result = match &failure {
            None => {
                let mut shape = vec![req.faces()];
                shape.extend_from_slice(&out_shape);
                Ok(TensorF32::new(shape, data))
            }
            Some(e) => Err(e.clone()),
        };
        // A dropped receiver means the job was cancelled: nothing to answer.
        let _ = req.reply.send(result);
        drop(req.permit);
    }
}

fn run_once(
    session: &mut Session,
    spec: &RestorerSpec,
    input: TensorF32,
    fidelity: f64,
) -> Result<TensorF32, PipelineError> {
    let mut feeds = vec![(spec.input.clone(), Feed::F32(input))];
    if let Some(f) = &spec.fidelity {
        let shape = vec![1; f.rank];
        let feed = if f.double {
            Feed::F64 {
                shape,
                data: vec![fidelity],
            }
        } else {
            Feed::F32(TensorF32::new(shape, vec![fidelity as f32]))
        };
        feeds.push((f.name.clone(), feed));
    }
    let mut out = session::run(session, feeds, std::slice::from_ref(&spec.output))
        .map_err(PipelineError::from_run_error)?;
    out.pop()
        .ok_or_else(|| PipelineError::Internal("the restorer returned no output".into()))
}
