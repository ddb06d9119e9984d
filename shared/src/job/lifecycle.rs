//! Every change of a job's state, in one place.
//!
//! ```text
//!   create ─▶ queued ──start──▶ processing ──succeed──▶ succeeded
//!               ▲                 │   │  └────fail─────▶ failed
//!               └────requeue──────┘   └──give_up───────▶ failed (gave-up)
//!   queued ──give_up──▶ failed (gave-up)      processing ──start──▶ processing (redelivery)
//!   any state ──delete / expire──▶ gone (the record is removed)
//!   record lost with the store ──recreate (from the queue message)──▶ queued
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
//! # Attempt ownership
//!
//! `start` hands the job to a new attempt: `attempts` counts them, and the latest one owns
//! the job. A redelivered message may start a job that is still `processing`, because its
//! previous worker may have died; the worker it took over from may also still be running.
//! So every change is guarded by the attempt as well as the state: the stored job's
//! `attempts` must be what the caller read (`start`, `give_up`) or the attempt the caller
//! runs (`succeed`, `fail`, `requeue`). An attempt that lost the job can then no longer
//! finish it or show it queued again, and two deliveries that read the same record cannot
//! both start it.

use super::{
    ImageInfo, JobEvent, JobFailure, JobId, JobParams, JobRecord, JobSeed, JobState, StageTimings,
};
use crate::ErrorCode;
use chrono::{DateTime, Utc};

/// States a worker may start from. `processing` is included because a redelivered
/// message means the previous worker may have died mid-job.
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
    /// The stored job's `attempts` must be this: the attempt that owns the change.
    attempt: u32,
}

impl Guard {
    /// The states the change may start from (what the Redis script compares).
    pub fn states(&self) -> &'static [JobState] {
        self.states
    }

    /// The stored job's `attempts` the change requires (what the Redis script compares).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the change may be written over `current`, the record as stored now.
    pub fn admits(&self, current: &JobRecord) -> bool {
        self.states.contains(&current.state) && current.attempts == self.attempt
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
    fn new(states: &'static [JobState], attempt: u32, next: JobRecord) -> Self {
        Self {
            guard: Guard { states, attempt },
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
    queued(
        id,
        JobSeed {
            created_at: now,
            expires_at,
            params,
            input,
            owner: None,
        },
    )
}

/// The job again, queued, from what its queue message carries, after the job store lost
/// the record (a Redis restart without persistence, a flush, an eviction). Written with
/// `JobStore::restore`, which never overwrites a record that exists. What earlier attempts
/// did is lost with the record: the job starts over.
pub fn recreate(id: JobId, seed: JobSeed) -> JobRecord {
    queued(id, seed)
}

fn queued(id: JobId, seed: JobSeed) -> JobRecord {
    let JobSeed {
        created_at,
        expires_at,
        params,
        input,
        owner,
    } = seed;
    JobRecord {
        id,
        state: JobState::Queued,
        created_at,
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
        owner,
    }
}

/// `worker_id` starts a new attempt on the job, as read in `current`; it takes the job over
/// from the attempt that owned it.
pub fn start(current: JobRecord, worker_id: &str, now: DateTime<Utc>) -> GuardedUpdate {
    let read = current.attempts;
    let mut next = current;
    next.state = JobState::Processing;
    next.started_at = Some(now);
    next.attempts += 1;
    next.worker_id = Some(worker_id.to_string());
    // A failure of an earlier attempt no longer describes the job.
    next.error = None;
    GuardedUpdate::new(STARTABLE, read, next)
}

/// The running job produced `output` (already stored as its attempt's result). `running`
/// is the record its `start` wrote: only that attempt may finish the job.
pub fn succeed(running: JobRecord, output: JobOutput, now: DateTime<Utc>) -> GuardedUpdate {
    let attempt = running.attempts;
    let mut next = running;
    next.state = JobState::Succeeded;
    next.finished_at = Some(now);
    next.output = Some(output.image);
    next.faces_found = Some(output.faces_found);
    next.faces_restored = Some(output.faces_restored);
    next.timings_ms = output.timings;
    next.notes.extend(output.notes);
    GuardedUpdate::new(FINISHABLE, attempt, next)
}

/// The running job can never succeed (a bad image, a missing input). `running` is the
/// record its `start` wrote.
pub fn fail(running: JobRecord, failure: JobFailure, now: DateTime<Utc>) -> GuardedUpdate {
    let attempt = running.attempts;
    let mut next = running;
    next.state = JobState::Failed;
    next.finished_at = Some(now);
    next.error = Some(failure);
    GuardedUpdate::new(FINISHABLE, attempt, next)
}

/// The job's message went past the delivery limit: fail it with `gave-up` so its owner
/// sees a final state, unless it already reached one or another attempt started since
/// `current` was read (that attempt has a message of its own).
pub fn give_up(current: JobRecord, now: DateTime<Utc>) -> GuardedUpdate {
    let read = current.attempts;
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
    GuardedUpdate::new(ABANDONABLE, read, next)
}

/// The worker hands the job back to the queue (retry or shutdown): show it queued again.
/// `running` is the record its `start` wrote: an attempt that lost the job hands nothing
/// back. Everything else, attempts included, stays as the attempt left it.
pub fn requeue(running: JobRecord) -> GuardedUpdate {
    let attempt = running.attempts;
    let mut next = running;
    next.state = JobState::Queued;
    GuardedUpdate::new(REQUEUEABLE, attempt, next)
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
