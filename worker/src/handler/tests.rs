//! Deliveries of one job racing each other, in the orders that matter, and jobs whose
//! record the store lost; on the embedded store and directory, with a processor that
//! holds every run until the test says how it ends, and a broker the test drives by hand.

use super::*;
use async_trait::async_trait;
use facefix_shared::blob::DirBlobStore;
use facefix_shared::job::{ImageFormat, JobId, JobParams, JobState};
use facefix_shared::ports::blob::list_all;
use facefix_shared::ports::{Acker, BlobStore, JobStore, QueueError};
use facefix_shared::queue::MemoryQueue;
use facefix_shared::retention::purge_job;
use facefix_shared::store::MemoryStore;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const PATIENCE: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ gated processor

/// How the test ends a held run.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Succeed,
    Transient,
}

/// A run waiting in the processor: `number` counts runs from 1, `release` ends it.
struct Held {
    number: u32,
    release: oneshot::Sender<Verdict>,
}

impl Held {
    fn end(self, verdict: Verdict) {
        let _ = self.release.send(verdict);
    }
}

/// Holds every run until the test releases it; a run that succeeds produces bytes naming
/// its number, so the test can tell whose result was stored.
struct GatedProcessor {
    runs: std::sync::atomic::AtomicU32,
    held: mpsc::UnboundedSender<Held>,
}

fn output_of(run: u32) -> Bytes {
    Bytes::from(format!("restored by run {run}"))
}

#[async_trait]
impl ImageProcessor for GatedProcessor {
    async fn process(
        &self,
        _input: Bytes,
        _params: &JobParams,
        _observer: Arc<dyn StageObserver>,
    ) -> Result<Processed, ProcessError> {
        let number = 1 + self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (release, verdict) = oneshot::channel();
        let _ = self.held.send(Held { number, release });
        match verdict.await {
            Ok(Verdict::Succeed) => Ok(Processed {
                bytes: output_of(number),
                format: ImageFormat::Png,
                width: 2,
                height: 1,
                faces_found: 1,
                faces_restored: 1,
                timings: StageTimings::default(),
                notes: Vec::new(),
            }),
            Ok(Verdict::Transient) => Err(ProcessError::Transient("device busy".into())),
            Err(_) => Err(ProcessError::Transient("the test went away".into())),
        }
    }

    fn models(&self) -> Vec<crate::processors::ModelInfo> {
        Vec::new()
    }
}

// ------------------------------------------------------------------ hand-driven broker

/// Where a message is, as the broker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Delivered, not settled yet.
    InFlight,
    /// Back in the queue, waiting for a worker.
    Waiting,
    Acked,
    DeadLettered,
}

struct Message {
    place: Place,
    /// Bumped on every delivery: only the latest delivery can settle the message (an
    /// earlier one was given up on, as a broker does when a consumer's channel closes).
    delivery: u32,
    body: JobMessage,
}

#[derive(Default)]
struct Broker {
    messages: Mutex<Vec<Message>>,
}

struct TestAcker {
    broker: Arc<Broker>,
    message: usize,
    delivery: u32,
}

impl TestAcker {
    fn settle(&self, place: Place) -> Result<(), QueueError> {
        let mut messages = self.broker.lock();
        let message = &mut messages[self.message];
        if message.delivery != self.delivery || message.place != Place::InFlight {
            return Err(QueueError::Unavailable("channel closed".into()));
        }
        message.place = place;
        Ok(())
    }
}

#[async_trait]
impl Acker for TestAcker {
    async fn ack(&self) -> Result<(), QueueError> {
        self.settle(Place::Acked)
    }
    async fn requeue(&self) -> Result<(), QueueError> {
        self.settle(Place::Waiting)
    }
    async fn dead_letter(&self) -> Result<(), QueueError> {
        self.settle(Place::DeadLettered)
    }
}

impl Broker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a published message; returns its number.
    fn publish(&self, body: &JobMessage) -> usize {
        let mut messages = self.lock();
        messages.push(Message {
            place: Place::Waiting,
            delivery: 0,
            body: body.clone(),
        });
        messages.len() - 1
    }

    /// Delivers message `message` (again): an earlier delivery of it can no longer settle it.
    fn deliver(self: &Arc<Self>, message: usize) -> Delivery {
        let mut messages = self.lock();
        let entry = &mut messages[message];
        entry.place = Place::InFlight;
        entry.delivery += 1;
        Delivery {
            message: entry.body.clone(),
            trace: Default::default(),
            previous_deliveries: entry.delivery - 1,
            acker: Box::new(TestAcker {
                broker: self.clone(),
                message,
                delivery: entry.delivery,
            }),
        }
    }

    fn place(&self, message: usize) -> Place {
        self.lock()[message].place
    }

    /// Messages back in the queue.
    fn waiting(&self) -> Vec<usize> {
        let messages = self.lock();
        (0..messages.len())
            .filter(|&i| messages[i].place == Place::Waiting)
            .collect()
    }
}

// ------------------------------------------------------------------ fixture

struct Fixture {
    handler: Arc<JobHandler>,
    store: Arc<dyn JobStore>,
    blobs: Arc<dyn BlobStore>,
    broker: Arc<Broker>,
    held: mpsc::UnboundedReceiver<Held>,
    job: JobRecord,
    message: JobMessage,
    _dir: tempfile::TempDir,
}

fn input_info() -> ImageInfo {
    ImageInfo {
        format: ImageFormat::Png,
        content_type: "image/png".into(),
        width: 2,
        height: 1,
        bytes: 6,
    }
}

/// An accepted job, as the upload leaves it: scheduled, its input stored, recorded, and
/// its message published. With `lose_store` the handler works on an empty store instead,
/// as after a Redis restart without persistence.
async fn fixture_with(lose_store: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs: Arc<dyn BlobStore> = Arc::new(DirBlobStore::open(dir.path()).await.expect("dir"));
    let accepted: Arc<dyn JobStore> = Arc::new(MemoryStore::new());
    let now = Utc::now();
    let job = lifecycle::create(
        JobId::new_random(),
        JobParams::default(),
        input_info(),
        now,
        Duration::from_secs(900),
    );
    accepted
        .schedule_purge(job.id, job.expires_at)
        .await
        .expect("schedule");
    blobs
        .put(
            &JobObjects::of(&job).input(),
            Bytes::from_static(b"pixels"),
            "image/png",
        )
        .await
        .expect("put input");
    accepted
        .create(&job, Duration::from_secs(1200))
        .await
        .expect("create");
    let store = if lose_store {
        Arc::new(MemoryStore::new())
    } else {
        accepted
    };
    let (sender, held) = mpsc::unbounded_channel();
    let processor = Arc::new(GatedProcessor {
        runs: Default::default(),
        held: sender,
    });
    let services = Services {
        queue: Arc::new(MemoryQueue::new(3)),
        store: store.clone(),
        blobs: blobs.clone(),
    };
    let args = WorkerArgs {
        concurrency: 4,
        drain_timeout: Duration::from_secs(5),
        worker_id: None,
        retry_backoff: Duration::from_millis(1),
    };
    let handler = Arc::new(JobHandler::new(
        services,
        processor,
        args,
        "test-worker".into(),
        facefix_shared::webhook::WebhookArgs::default(),
    ));
    Fixture {
        handler,
        store,
        blobs,
        broker: Arc::default(),
        held,
        message: JobMessage::for_job(&job, now),
        job,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(false).await
}

/// What [`Fixture::two_attempts`] leaves running: the message, and each attempt's task
/// and its run held in the processor.
struct TwoAttempts {
    message: usize,
    first: JoinHandle<()>,
    run1: Held,
    second: JoinHandle<()>,
    run2: Held,
}

impl Fixture {
    fn objects(&self) -> JobObjects {
        JobObjects::of(&self.job)
    }

    /// Publishes the job's message once more (a duplicate); returns its number.
    fn publish(&self) -> usize {
        self.broker.publish(&self.message)
    }

    /// Hands a delivery of message `message` to the handler, on a task of its own.
    fn deliver(&self, message: usize) -> JoinHandle<()> {
        let delivery = self.broker.deliver(message);
        tokio::spawn(
            self.handler
                .clone()
                .handle(delivery, CancellationToken::new()),
        )
    }

    /// The next run to reach the processor.
    async fn next_run(&mut self) -> Held {
        tokio::time::timeout(PATIENCE, self.held.recv())
            .await
            .expect("a run reaches the processor")
            .expect("the processor is alive")
    }

    /// Two deliveries of one message, both held in the processor: attempt 1, then the
    /// redelivery that takes the job over from it (attempt 2).
    async fn two_attempts(&mut self) -> TwoAttempts {
        let message = self.publish();
        let first = self.deliver(message);
        let run1 = self.next_run().await;
        let second = self.deliver(message);
        let run2 = self.next_run().await;
        TwoAttempts {
            message,
            first,
            run1,
            second,
            run2,
        }
    }

    async fn stored(&self) -> JobRecord {
        self.store
            .get(self.job.id)
            .await
            .expect("get")
            .expect("the job has a record")
    }

    /// Delivers every waiting message until none waits, ending each run it starts with a
    /// success, then checks the end the issue demands: whatever happened before, the job
    /// succeeded, with the result of the attempt that owns it and no other, and nothing of
    /// it was left without a message on the way.
    async fn finish_and_check(&mut self) -> JobRecord {
        loop {
            let state = self
                .store
                .get(self.job.id)
                .await
                .expect("get")
                .map(|record| record.state);
            let waiting = self.broker.waiting();
            assert!(
                state.is_some_and(JobState::is_final) || !waiting.is_empty(),
                "the job is {state:?} with no message behind it"
            );
            let Some(&message) = waiting.first() else {
                break;
            };
            let mut task = self.deliver(message);
            loop {
                tokio::select! {
                    held = self.held.recv() => held.expect("processor").end(Verdict::Succeed),
                    joined = &mut task => {
                        joined.expect("the handler never panics");
                        break;
                    }
                }
            }
        }
        let record = self.stored().await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let owner = self.objects().result(record.attempts);
        let mut expected = vec![self.objects().input(), owner.clone()];
        expected.sort();
        assert_eq!(
            list_all(self.blobs.as_ref(), &self.objects().folder())
                .await
                .expect("list"),
            expected,
            "the input and the owner's result, nothing else"
        );
        let result = self
            .blobs
            .get(&owner)
            .await
            .expect("get")
            .expect("the owner's result");
        let bytes = result.into_bytes().await.expect("read");
        assert_eq!(
            record.output.as_ref().map(|output| output.bytes),
            Some(bytes.len() as u64),
            "the record describes the stored result"
        );
        record
    }

    /// The stored result's bytes.
    async fn result_bytes(&self, record: &JobRecord) -> Bytes {
        self.blobs
            .get(&self.objects().result(record.attempts))
            .await
            .expect("get")
            .expect("a result")
            .into_bytes()
            .await
            .expect("read")
    }
}

async fn joined(task: JoinHandle<()>) {
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("the delivery is handled")
        .expect("the handler never panics");
}

// ------------------------------------------------------------------ two deliveries

/// Issue 11 as reported: attempt 1 runs, the broker redelivers its message and attempt 2
/// takes over, attempt 1 fails transiently and hands the job back, attempt 2 succeeds.
/// Before attempts owned the job, attempt 1's hand-back showed attempt 2's job queued,
/// attempt 2's success was then refused and acked, and the job stayed queued with no
/// message behind it.
#[tokio::test]
async fn a_stale_requeue_cannot_strand_the_job() {
    let mut f = fixture().await;
    let TwoAttempts {
        message,
        first,
        run1,
        second,
        run2,
    } = f.two_attempts().await;
    assert_eq!((run1.number, run2.number), (1, 2));
    assert_eq!(f.stored().await.attempts, 2, "attempt 2 took the job over");

    run1.end(Verdict::Transient);
    joined(first).await;
    let record = f.stored().await;
    assert_eq!(
        (record.state, record.attempts),
        (JobState::Processing, 2),
        "attempt 1 hands back nothing it does not own"
    );

    run2.end(Verdict::Succeed);
    joined(second).await;
    assert_eq!(f.broker.place(message), Place::Acked);
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 2);
    assert_eq!(f.result_bytes(&record).await, output_of(2));
}

/// The owner finished first; the attempt it took over from finishes later and must
/// neither overwrite nor delete the owner's result.
#[tokio::test]
async fn a_late_stale_success_leaves_the_owners_result() {
    let mut f = fixture().await;
    let TwoAttempts {
        message: _,
        first,
        run1,
        second,
        run2,
    } = f.two_attempts().await;
    run2.end(Verdict::Succeed);
    joined(second).await;
    assert_eq!(f.stored().await.state, JobState::Succeeded);

    run1.end(Verdict::Succeed);
    joined(first).await;
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 2);
    assert_eq!(f.result_bytes(&record).await, output_of(2));
}

/// The attempt that lost the job succeeds while the owner still runs: refused, and its
/// result does not stay behind; the owner then finishes.
#[tokio::test]
async fn an_early_stale_success_is_refused() {
    let mut f = fixture().await;
    let TwoAttempts {
        message: _,
        first,
        run1,
        second,
        run2,
    } = f.two_attempts().await;
    run1.end(Verdict::Succeed);
    joined(first).await;
    let record = f.stored().await;
    assert_eq!((record.state, record.attempts), (JobState::Processing, 2));
    assert!(
        !f.blobs
            .exists(&f.objects().result(1))
            .await
            .expect("exists"),
        "the refused attempt's result is deleted"
    );

    run2.end(Verdict::Succeed);
    joined(second).await;
    let record = f.finish_and_check().await;
    assert_eq!(f.result_bytes(&record).await, output_of(2));
}

/// The owner fails transiently and hands the job back (its message waits again); the
/// attempt it took over from then succeeds and is refused. The waiting message finishes
/// the job.
#[tokio::test]
async fn after_the_owner_requeues_a_stale_success_is_refused() {
    let mut f = fixture().await;
    let TwoAttempts {
        message,
        first,
        run1,
        second,
        run2,
    } = f.two_attempts().await;
    run2.end(Verdict::Transient);
    joined(second).await;
    assert_eq!(f.stored().await.state, JobState::Queued);
    assert_eq!(f.broker.place(message), Place::Waiting);

    run1.end(Verdict::Succeed);
    joined(first).await;
    assert_eq!(
        f.stored().await.state,
        JobState::Queued,
        "the stale success is refused"
    );
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 3);
    assert_eq!(f.result_bytes(&record).await, output_of(3));
}

/// The first worker died mid-job: the redelivery takes the job over and finishes it.
#[tokio::test]
async fn when_the_owner_dies_the_redelivery_finishes_the_job() {
    let mut f = fixture().await;
    let message = f.publish();
    let first = f.deliver(message);
    let run1 = f.next_run().await;
    first.abort();
    let _ = first.await;
    drop(run1);
    let second = f.deliver(message);
    f.next_run().await.end(Verdict::Succeed);
    joined(second).await;
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 2);
    assert_eq!(f.result_bytes(&record).await, output_of(2));
}

/// Two copies of the message (both deliveries can settle theirs): the attempt that lost the
/// job drops its copy instead of requeueing it (a requeued copy would only take the job
/// over again), and the owner's copy finishes the job.
#[tokio::test]
async fn a_stale_attempt_drops_its_own_copy() {
    let mut f = fixture().await;
    let (copy1, copy2) = (f.publish(), f.publish());
    let first = f.deliver(copy1);
    let run1 = f.next_run().await;
    let second = f.deliver(copy2);
    let run2 = f.next_run().await;
    run1.end(Verdict::Transient);
    joined(first).await;
    assert_eq!(f.broker.place(copy1), Place::Acked);
    run2.end(Verdict::Succeed);
    joined(second).await;
    assert_eq!(f.broker.place(copy2), Place::Acked);
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 2);
}

/// A copy arrives while the job is queued after its owner handed it back; then the handed
/// back message is redelivered and takes over in turn. One final state, the last owner's
/// result.
#[tokio::test]
async fn a_delivery_while_queued_after_a_requeue() {
    let mut f = fixture().await;
    let (copy1, copy2) = (f.publish(), f.publish());
    let first = f.deliver(copy1);
    f.next_run().await.end(Verdict::Transient);
    joined(first).await;
    assert_eq!(f.stored().await.state, JobState::Queued);
    assert_eq!(f.broker.place(copy1), Place::Waiting);

    let second = f.deliver(copy2);
    let run2 = f.next_run().await;
    let third = f.deliver(copy1);
    let run3 = f.next_run().await;
    assert_eq!(f.stored().await.attempts, 3);
    run2.end(Verdict::Succeed);
    joined(second).await;
    run3.end(Verdict::Succeed);
    joined(third).await;
    assert_eq!(f.broker.place(copy2), Place::Acked);
    assert_eq!(f.broker.place(copy1), Place::Acked);
    let record = f.finish_and_check().await;
    assert_eq!(record.attempts, 3);
    assert_eq!(f.result_bytes(&record).await, output_of(3));
}

// ------------------------------------------------------------------ lost store

/// The store lost the record (its purge entry too); the message recreates the job, which
/// is queued and scheduled again, then processed.
#[tokio::test]
async fn a_job_the_store_lost_is_recreated_and_succeeds() {
    let mut f = fixture_with(true).await;
    assert_eq!(f.store.get(f.job.id).await.expect("get"), None);
    let message = f.publish();
    let task = f.deliver(message);
    let run = f.next_run().await;
    let recreated = f.stored().await;
    assert_eq!(recreated.state, JobState::Processing);
    assert_eq!(recreated.created_at, f.job.created_at);
    assert_eq!(recreated.expires_at, f.job.expires_at);
    assert_eq!(recreated.params, f.job.params);
    assert_eq!(recreated.input, f.job.input);
    assert!(
        f.store.is_scheduled(f.job.id).await.expect("scheduled"),
        "back on the purge schedule"
    );
    run.end(Verdict::Succeed);
    joined(task).await;
    assert_eq!(f.broker.place(message), Place::Acked);
    f.finish_and_check().await;
}

/// The record vanished while the job ran, its input did not (the store lost it): the
/// result is not kept against a missing record, and the message comes back and recreates
/// the job.
#[tokio::test]
async fn a_record_lost_mid_job_comes_back_with_the_message() {
    let mut f = fixture().await;
    let message = f.publish();
    let task = f.deliver(message);
    let run = f.next_run().await;
    f.store
        .delete_record(lifecycle::expire(f.job.id))
        .await
        .expect("lose the record");
    run.end(Verdict::Succeed);
    joined(task).await;
    assert_eq!(f.broker.place(message), Place::Waiting);
    assert!(
        !f.blobs
            .exists(&f.objects().result(1))
            .await
            .expect("exists"),
        "no result is kept without a record"
    );
    f.finish_and_check().await;
}

/// Messages of jobs that are gone for good are dropped: nothing is recreated.
async fn assert_dropped(f: &mut Fixture, message: &JobMessage) {
    let number = f.broker.publish(message);
    joined(f.deliver(number)).await;
    assert_eq!(f.broker.place(number), Place::Acked);
    assert!(
        f.held.try_recv().is_err(),
        "nothing of the job was processed"
    );
    assert_eq!(f.store.get(f.job.id).await.expect("get"), None);
}

#[tokio::test]
async fn a_deleted_jobs_message_is_dropped_not_resurrected() {
    let mut f = fixture().await;
    purge_job(
        f.store.as_ref(),
        f.blobs.as_ref(),
        lifecycle::delete(f.job.id),
        Some(f.objects()),
    )
    .await
    .expect("delete");
    let message = f.message.clone();
    assert_dropped(&mut f, &message).await;
    assert!(
        list_all(f.blobs.as_ref(), "jobs/")
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn an_expired_jobs_message_is_dropped() {
    let mut f = fixture_with(true).await;
    let mut message = f.message.clone();
    if let Some(seed) = message.job.as_mut() {
        seed.expires_at = Utc::now() - chrono::Duration::seconds(1);
    }
    assert_dropped(&mut f, &message).await;
}

#[tokio::test]
async fn a_version_1_message_cannot_recreate_a_lost_job() {
    let mut f = fixture_with(true).await;
    let mut message = JobMessage::new(f.job.id, Utc::now());
    message.v = 1;
    assert_dropped(&mut f, &message).await;
}
