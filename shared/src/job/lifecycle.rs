//! Every change of a job's state, in one place.
//!
//! ```text
//!   create ─▶ queued ──start──▶ processing ──succeed──▶ succeeded
//!               ▲                 │   │  └────fail─────▶ failed
//!               └────requeue──────┘   └──give_up───────▶ failed (gave-up)
//!   queued ──give_up──▶ failed (gave-up)      processing ──start──▶ processing (redelivery)
//!   any state ──delete / expire──▶ gone (the record is removed)
//! ```
//!
//! A transition takes the record as the caller last read it and returns a
//! [`GuardedUpdate`]: the next record and the [`Guard`] the *stored* job must pass for it
//! to be written. `JobStore::transition` checks the guard and writes in one atomic step,
//! so workers, the dead-letter handler and the sweeper can race on one job and only
//! changes that still make sense land. Callers never pick states themselves.
//!
//! Deleting and expiring are [`Removal`]s, not updates: they apply from every state and
//! are idempotent, so there is nothing to guard.
//!
//! # Attempt ownership (issue 11)
//!
//! `start` hands the job to one attempt (`attempts` counts them). Today `succeed`, `fail`
//! and `requeue` are guarded by the state alone, so a worker whose attempt was taken over
//! (its message redelivered to another worker) can still finish or requeue the job. The
//! fix belongs in [`Guard`]: a field naming the owning attempt, checked by
//! [`Guard::admits`] and by the Redis adapter's transition script, set by the transitions
//! that only the owner may make.

use super::{ImageInfo, JobEvent, JobFailure, JobId, JobParams, JobRecord, JobState, StageTimings};
use crate::ErrorCode;
use chrono::{DateTime, Utc};

/// States a worker may start from. `processing` is included because a redelivered
/// message means the previous worker died mid-job.
const STARTABLE: &[JobState] = &[JobState::Queued, JobState::Processing];
/// States a job may succeed or fail from.
const FINISHABLE: &[JobState] = &[JobState::Processing];
/// States a give-up (dead letter) may mark failed.
const ABANDONABLE: &[JobState] = &[JobState::Queued, JobState::Processing];
/// States a job is shown queued again from when its worker hands it back.
const REQUEUEABLE: &[JobState] = &[JobState::Processing];

/// What must hold of the stored job for a [`GuardedUpdate`] to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// The stored job's state must be one of these.
    states: &'static [JobState],
    // Issue 11 adds the owning attempt here (see the module docs).
}

impl Guard {
    /// The states the change may start from (what the Redis script compares).
    pub fn states(&self) -> &'static [JobState] {
        self.states
    }

    /// Whether the change may be written over `current`, the record as stored now.
    pub fn admits(&self, current: &JobRecord) -> bool {
        self.states.contains(&current.state)
    }
}

/// A state change ready for `JobStore::transition`: the guard, and the record to write
/// if it passes.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a state change does nothing until JobStore::transition applies it"]
pub struct GuardedUpdate {
    guard: Guard,
    next: JobRecord,
}

impl GuardedUpdate {
    fn new(states: &'static [JobState], next: JobRecord) -> Self {
        Self {
            guard: Guard { states },
            next,
        }
    }

    pub fn guard(&self) -> Guard {
        self.guard
    }

    /// The record as it will be once written.
    pub fn next(&self) -> &JobRecord {
        &self.next
    }

    pub fn into_next(self) -> JobRecord {
        self.next
    }

    /// The event announcing the change.
    pub fn event(&self) -> JobEvent {
        JobEvent::state_of(&self.next)
    }
}

/// What a successful run produced, for [`succeed`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    pub image: ImageInfo,
    pub faces_found: u32,
    pub faces_restored: u32,
    /// Every stage's time, fetch to store, and the total.
    pub timings: StageTimings,
    /// What was changed from the request (e.g. a clamped upscale).
    pub notes: Vec<String>,
}

/// A new queued job, expiring `retention` after `now`. Written with `JobStore::create`
/// (there is no stored job to guard against yet).
pub fn create(
    id: JobId,
    params: JobParams,
    input: ImageInfo,
    now: DateTime<Utc>,
    retention: std::time::Duration,
) -> JobRecord {
    // A retention too long to represent never runs out, as the operator meant.
    let expires_at = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|retention| now.checked_add_signed(retention))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    JobRecord {
        id,
        state: JobState::Queued,
        created_at: now,
        started_at: None,
        finished_at: None,
        expires_at,
        params,
        input,
        output: None,
        faces_found: None,
        faces_restored: None,
        timings_ms: StageTimings::default(),
        attempts: 0,
        worker_id: None,
        error: None,
        notes: Vec::new(),
    }
}

/// `worker_id` starts a new attempt on the job.
pub fn start(current: JobRecord, worker_id: &str, now: DateTime<Utc>) -> GuardedUpdate {
    let mut next = current;
    next.state = JobState::Processing;
    next.started_at = Some(now);
    next.attempts += 1;
    next.worker_id = Some(worker_id.to_string());
    // A failure of an earlier attempt no longer describes the job.
    next.error = None;
    GuardedUpdate::new(STARTABLE, next)
}

/// The running job produced `output` (already stored as its result).
pub fn succeed(running: JobRecord, output: JobOutput, now: DateTime<Utc>) -> GuardedUpdate {
    let mut next = running;
    next.state = JobState::Succeeded;
    next.finished_at = Some(now);
    next.output = Some(output.image);
    next.faces_found = Some(output.faces_found);
    next.faces_restored = Some(output.faces_restored);
    next.timings_ms = output.timings;
    next.notes.extend(output.notes);
    GuardedUpdate::new(FINISHABLE, next)
}

/// The running job can never succeed (a bad image, a missing input).
pub fn fail(running: JobRecord, failure: JobFailure, now: DateTime<Utc>) -> GuardedUpdate {
    let mut next = running;
    next.state = JobState::Failed;
    next.finished_at = Some(now);
    next.error = Some(failure);
    GuardedUpdate::new(FINISHABLE, next)
}

/// The job's message went past the delivery limit: fail it with `gave-up` so its owner
/// sees a final state, unless it already reached one.
pub fn give_up(current: JobRecord, now: DateTime<Utc>) -> GuardedUpdate {
    let message = format!(
        "processing failed {} times; giving up",
        current.attempts.max(1)
    );
    let mut next = current;
    next.state = JobState::Failed;
    next.finished_at = Some(now);
    next.error = Some(JobFailure {
        code: ErrorCode::GaveUp,
        message,
    });
    GuardedUpdate::new(ABANDONABLE, next)
}

/// The worker hands the job back to the queue (retry or shutdown): show it queued again.
/// Everything else, attempts included, stays as the last attempt left it.
pub fn requeue(current: JobRecord) -> GuardedUpdate {
    let mut next = current;
    next.state = JobState::Queued;
    GuardedUpdate::new(REQUEUEABLE, next)
}

/// Why a job's data is being destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeReason {
    /// Its owner asked.
    Deleted,
    /// Its retention ran out.
    Expired,
}

impl PurgeReason {
    /// The final state announced for the job.
    pub fn state(self) -> JobState {
        match self {
            Self::Deleted => JobState::Deleted,
            Self::Expired => JobState::Expired,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }
}

/// Destroying a job's record (`JobStore::delete_record`). Allowed from every state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a removal does nothing until it is applied"]
pub struct Removal {
    pub id: JobId,
    pub reason: PurgeReason,
}

impl Removal {
    /// The event announcing that the job is gone.
    pub fn event(self) -> JobEvent {
        JobEvent::Gone {
            job_id: self.id,
            state: self.reason.state(),
        }
    }
}

/// Its owner deletes the job.
pub fn delete(id: JobId) -> Removal {
    Removal {
        id,
        reason: PurgeReason::Deleted,
    }
}

/// The job's retention ran out.
pub fn expire(id: JobId) -> Removal {
    Removal {
        id,
        reason: PurgeReason::Expired,
    }
}

#[cfg(test)]
mod tests;
