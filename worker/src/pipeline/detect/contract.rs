//! What the detectors share: the start-up check of a graph's inputs against its manifest
//! entry, and the round trip of a command to their session threads.

use crate::pipeline::error::PipelineError;
use crate::pipeline::inference::runtime::RuntimeError;
use crate::pipeline::inference::session::IoInfo;
use crate::pipeline::inference::session_threads::SessionThreads;
use crossbeam_channel::Receiver;
use facefix_shared::models::{Layout, ModelEntry};

/// A contract failure of `entry`'s model.
pub fn fail(entry: &ModelEntry, message: String) -> RuntimeError {
    RuntimeError::Contract {
        model: entry.name.clone(),
        message,
    }
}

/// Checks that the graph's inputs are the manifest's, in order, and that the first (the
/// image) is float32 of rank 4 in `layout` with 3 channels; returns that input.
pub fn image_input<'a>(
    entry: &ModelEntry,
    inputs: &'a [IoInfo],
    layout: Layout,
) -> Result<&'a IoInfo, RuntimeError> {
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    if names != entry.inputs.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(fail(
            entry,
            format!("inputs are {names:?}, the manifest says {:?}", entry.inputs),
        ));
    }
    let (channel_axis, layout_name) = match layout {
        Layout::Nchw => (1, "NCHW"),
        Layout::Nwhc => (3, "NWHC"),
    };
    let input = &inputs[0];
    if entry.layout != layout
        || input.shape.len() != 4
        || input.shape[channel_axis] != 3
        || !input.is_f32()
    {
        return Err(fail(
            entry,
            format!(
                "input {} is not float32 {layout_name} with 3 channels",
                input.describe()
            ),
        ));
    }
    Ok(input)
}

/// Queues a command on the detector threads (blocking while the queue is full).
pub fn send<C>(workers: &SessionThreads<C>, cmd: C) -> Result<(), PipelineError> {
    workers
        .sender()
        .send(cmd)
        .map_err(|_| PipelineError::Transient("the detector threads have stopped".into()))
}

/// Waits for a detector thread's reply to a command.
pub fn receive<R>(reply: &Receiver<Result<R, PipelineError>>) -> Result<R, PipelineError> {
    reply
        .recv()
        .map_err(|_| PipelineError::Transient("a detector thread died during a run".into()))?
}
