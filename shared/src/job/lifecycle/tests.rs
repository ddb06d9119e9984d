use super::*;
use crate::job::ImageFormat;
use chrono::TimeZone;
use std::time::Duration;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_000_000 + seconds, 0)
        .single()
        .expect("a time")
}

fn image(width: u32) -> ImageInfo {
    ImageInfo {
        format: ImageFormat::Png,
        content_type: "image/png".into(),
        width,
        height: 48,
        bytes: 1234,
    }
}

fn queued() -> JobRecord {
    create(
        JobId::new_random(),
        JobParams::default(),
        image(64),
        at(0),
        Duration::from_secs(900),
    )
}

fn with_state(state: JobState) -> JobRecord {
    let mut record = queued();
    record.state = state;
    record
}

fn running() -> JobRecord {
    start(queued(), "worker-a", at(5)).into_next()
}

fn output() -> JobOutput {
    JobOutput {
        image: image(128),
        faces_found: 3,
        faces_restored: 2,
        timings: StageTimings {
            total: Some(42.0),
            ..StageTimings::default()
        },
        notes: vec!["upscale clamped".into()],
    }
}

/// The states from which `update` may be written (with the attempt it requires), found by
/// asking its guard.
fn admitted_from(update: &GuardedUpdate) -> Vec<JobState> {
    JobState::ALL
        .iter()
        .copied()
        .filter(|state| {
            let mut stored = with_state(*state);
            stored.attempts = update.guard().attempt();
            update.guard().admits(&stored)
        })
        .collect()
}

#[test]
fn create_makes_a_queued_job_that_expires_after_the_retention() {
    let record = queued();
    assert_eq!(record.state, JobState::Queued);
    assert_eq!(record.created_at, at(0));
    assert_eq!(record.expires_at, at(900));
    assert_eq!(record.attempts, 0);
    assert_eq!(record.started_at, None);
    assert_eq!(record.finished_at, None);
    assert_eq!(record.worker_id, None);
    assert_eq!(record.output, None);
    assert_eq!(record.error, None);
}

#[test]
fn an_unrepresentable_retention_never_expires_early() {
    let record = create(
        JobId::new_random(),
        JobParams::default(),
        image(64),
        at(0),
        Duration::MAX,
    );
    assert!(record.expires_at > at(100 * 365 * 86_400));
}

#[test]
fn start_counts_an_attempt_and_names_the_worker() {
    let mut previous = with_state(JobState::Processing);
    previous.attempts = 1;
    previous.worker_id = Some("worker-dead".into());
    previous.error = Some(JobFailure {
        code: ErrorCode::Internal,
        message: "an earlier attempt".into(),
    });
    let update = start(previous.clone(), "worker-b", at(7));
    assert_eq!(
        admitted_from(&update),
        [JobState::Queued, JobState::Processing],
        "a redelivery after a worker died restarts a processing job"
    );
    let next = update.next();
    assert_eq!(next.state, JobState::Processing);
    assert_eq!(next.started_at, Some(at(7)));
    assert_eq!(next.attempts, 2);
    assert_eq!(next.worker_id.as_deref(), Some("worker-b"));
    assert_eq!(next.error, None, "an earlier attempt's error is cleared");
    assert_eq!(next.finished_at, None);
    assert_eq!(next.created_at, previous.created_at);
}

#[test]
fn finished_jobs_cannot_be_restarted() {
    let update = start(queued(), "worker-a", at(1));
    assert!(!update.guard().states().contains(&JobState::Succeeded));
    assert!(!update.guard().states().contains(&JobState::Failed));
    assert!(!update.guard().admits(&with_state(JobState::Deleted)));
}

#[test]
fn succeed_records_the_output_counts_timings_and_notes() {
    let mut job = running();
    job.notes.push("kept from the request".into());
    let update = succeed(job.clone(), output(), at(9));
    assert_eq!(admitted_from(&update), [JobState::Processing]);
    let next = update.next();
    assert_eq!(next.state, JobState::Succeeded);
    assert_eq!(next.finished_at, Some(at(9)));
    assert_eq!(next.started_at, job.started_at);
    assert_eq!(next.output, Some(image(128)));
    assert_eq!(next.faces_found, Some(3));
    assert_eq!(next.faces_restored, Some(2));
    assert_eq!(next.timings_ms.total, Some(42.0));
    assert_eq!(next.notes, ["kept from the request", "upscale clamped"]);
    assert_eq!(next.attempts, 1, "finishing is not a new attempt");
    assert_eq!(next.worker_id.as_deref(), Some("worker-a"));
    assert_eq!(next.error, None);
}

#[test]
fn fail_records_the_failure() {
    let failure = JobFailure {
        code: ErrorCode::CorruptImage,
        message: "truncated".into(),
    };
    let update = fail(running(), failure.clone(), at(9));
    assert_eq!(admitted_from(&update), [JobState::Processing]);
    let next = update.next();
    assert_eq!(next.state, JobState::Failed);
    assert_eq!(next.finished_at, Some(at(9)));
    assert_eq!(next.error, Some(failure));
    assert_eq!(next.output, None);
    assert_eq!(next.attempts, 1);
}

#[test]
fn give_up_fails_with_gave_up_and_counts_the_attempts() {
    let mut job = running();
    job.attempts = 3;
    let update = give_up(job, at(20));
    assert_eq!(
        admitted_from(&update),
        [JobState::Queued, JobState::Processing]
    );
    let next = update.next();
    assert_eq!(next.state, JobState::Failed);
    assert_eq!(next.finished_at, Some(at(20)));
    let error = next.error.as_ref().expect("an error");
    assert_eq!(error.code, ErrorCode::GaveUp);
    assert_eq!(error.message, "processing failed 3 times; giving up");
}

#[test]
fn give_up_on_a_job_never_started_says_once() {
    let update = give_up(queued(), at(20));
    let error = update.next().error.as_ref().expect("an error");
    assert_eq!(error.message, "processing failed 1 times; giving up");
    assert_eq!(update.next().attempts, 0);
}

#[test]
fn requeue_shows_a_processing_job_queued_and_keeps_the_attempt() {
    let job = running();
    let update = requeue(job.clone());
    assert_eq!(admitted_from(&update), [JobState::Processing]);
    let next = update.next();
    assert_eq!(next.state, JobState::Queued);
    assert_eq!(next.attempts, job.attempts);
    assert_eq!(next.started_at, job.started_at);
    assert_eq!(next.worker_id, job.worker_id);
    assert_eq!(next.finished_at, None);
}

#[test]
fn the_event_of_an_update_carries_the_next_record() {
    let update = start(queued(), "worker-a", at(1));
    assert_eq!(
        update.event(),
        JobEvent::State {
            record: Box::new(update.next().clone())
        }
    );
}

#[test]
fn delete_and_expire_announce_their_final_state() {
    let id = JobId::new_random();
    let deleted = delete(id);
    assert_eq!(deleted.reason, PurgeReason::Deleted);
    assert_eq!(
        deleted.event(),
        JobEvent::Gone {
            job_id: id,
            state: JobState::Deleted
        }
    );
    assert!(deleted.event().is_final());
    let expired = expire(id);
    assert_eq!(expired.reason.as_str(), "expired");
    assert_eq!(
        expired.event(),
        JobEvent::Gone {
            job_id: id,
            state: JobState::Expired
        }
    );
}

#[test]
fn every_update_requires_the_attempt_it_was_made_for() {
    let job = running();
    assert_eq!(job.attempts, 1);
    assert_eq!(start(queued(), "worker-a", at(1)).guard().attempt(), 0);
    assert_eq!(start(job.clone(), "worker-b", at(6)).guard().attempt(), 1);
    assert_eq!(succeed(job.clone(), output(), at(9)).guard().attempt(), 1);
    let failure = JobFailure {
        code: ErrorCode::CorruptImage,
        message: "truncated".into(),
    };
    assert_eq!(fail(job.clone(), failure, at(9)).guard().attempt(), 1);
    assert_eq!(requeue(job.clone()).guard().attempt(), 1);
    assert_eq!(give_up(job, at(9)).guard().attempt(), 1);
}

#[test]
fn an_attempt_that_lost_the_job_can_neither_finish_nor_requeue_it() {
    let first = running();
    // A redelivery takes the job over while the first attempt still runs.
    let second = start(first.clone(), "worker-b", at(6)).into_next();
    assert_eq!(second.attempts, 2);
    let failure = JobFailure {
        code: ErrorCode::CorruptImage,
        message: "truncated".into(),
    };
    for stale in [
        succeed(first.clone(), output(), at(9)),
        fail(first.clone(), failure.clone(), at(9)),
        requeue(first.clone()),
        start(first.clone(), "worker-c", at(9)),
    ] {
        assert!(
            !stale.guard().admits(&second),
            "{:?} from attempt 1 must not land on attempt 2",
            stale.next().state
        );
    }
    assert!(
        succeed(second.clone(), output(), at(9))
            .guard()
            .admits(&second)
    );
    assert!(requeue(second.clone()).guard().admits(&second));
    assert!(fail(second.clone(), failure, at(9)).guard().admits(&second));
}

#[test]
fn recreate_queues_the_job_as_it_was_accepted() {
    let accepted = queued();
    let seed = JobSeed::of(&accepted);
    let again = recreate(accepted.id, seed);
    assert_eq!(again, accepted);
    assert_eq!(again.state, JobState::Queued);
    assert_eq!(again.attempts, 0);
    // With API keys on, only the creating key may read the job: a recreated record keeps
    // its owner, or its own key would get 404.
    let mut owned = queued();
    owned.owner = Some("ci-client".into());
    let again = recreate(owned.id, JobSeed::of(&owned));
    assert_eq!(again.owner.as_deref(), Some("ci-client"));
    assert_eq!(again, owned);
}
