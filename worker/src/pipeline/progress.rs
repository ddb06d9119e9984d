//! Progress of one image through the stages, for whoever runs the pipeline: the job loop
//! turns it into live events, the offline CLI ignores it.

use facefix_shared::job::Stage;

/// Hears each stage as it starts; called from the pipeline's async and blocking threads.
pub trait StageObserver: Send + Sync {
    fn entered(&self, stage: Stage);
}

/// Ignores stage changes.
pub struct NoStageObserver;

impl StageObserver for NoStageObserver {
    fn entered(&self, _stage: Stage) {}
}
