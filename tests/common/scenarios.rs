//! End-to-end scenarios over HTTP, run on both backends (see `e2e_embedded.rs` and
//! `e2e_services.rs`).

use super::{Backend, Stack, StackOptions, read_testdata};
use facefix_shared::connect::Services;
use facefix_shared::job::{JobId, JobRecord, JobState};
use facefix_shared::ports::JobObjects;
use facefix_shared::ports::blob::list_all;
use facefix_shared::retention::Sweeper;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const JOB_DEADLINE: Duration = Duration::from_secs(60);

/// upload → succeeded → result → input → delete → gone, with every link and header.
pub async fn lifecycle(backend: Backend) {
    let stack = Stack::start(StackOptions::new(backend)).await;
    let upload = read_testdata("images/astronaut.png");
    let part = reqwest::multipart::Part::bytes(upload.clone()).file_name("my holiday.png");
    let form = reqwest::multipart::Form::new()
        .part("image", part)
        .text("upscale", "2")
        .text("format", "jpeg");
    let response = stack
        .client
        .post(stack.url("/v1/jobs"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert_eq!(created["state"], "queued");
    assert_eq!(created["input"]["width"], 512);
    assert!(
        !created.to_string().contains("holiday"),
        "the user's file name must not be kept"
    );

    let done = stack.wait_final(&id, JOB_DEADLINE).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["output"]["format"], "jpeg");
    assert_eq!(done["output"]["width"], 1024);
    assert_eq!(done["attempts"], 1);
    assert!(done["timings_ms"]["total"].as_f64().expect("total") > 0.0);
    assert_eq!(done["links"]["result"], format!("/v1/jobs/{id}/result"));

    let result = stack
        .client
        .get(stack.url(&format!("/v1/jobs/{id}/result")))
        .send()
        .await
        .expect("GET result");
    assert_eq!(result.status(), 200);
    assert_eq!(result.headers()["content-type"], "image/jpeg");
    let bytes = result.bytes().await.expect("body");
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
    let input = stack
        .client
        .get(stack.url(&format!("/v1/jobs/{id}/input")))
        .send()
        .await
        .expect("GET input");
    assert_eq!(input.status(), 200);
    assert_eq!(
        input.bytes().await.expect("body").as_ref(),
        upload.as_slice()
    );

    let delete = stack
        .client
        .delete(stack.url(&format!("/v1/jobs/{id}")))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(delete.status(), 204);
    assert_eq!(stack.job(&id).await.0, 404);
    let again = stack
        .client
        .delete(stack.url(&format!("/v1/jobs/{id}")))
        .send()
        .await
        .expect("DELETE again");
    assert_eq!(again.status(), 204, "DELETE is idempotent");
    assert_eq!(
        objects_of(&stack, &done).await,
        Vec::<String>::new(),
        "objects survived DELETE"
    );
    stack.shutdown().await;
}

/// Where a job's objects live, from its JSON.
fn objects(job: &Value) -> JobObjects {
    let id: JobId = job["id"].as_str().expect("id").parse().expect("a job id");
    let expires_at = job["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("a time");
    JobObjects::new(id, expires_at)
}

/// The names of the objects in a job's folder.
async fn objects_of(stack: &Stack, job: &Value) -> Vec<String> {
    list_all(stack.services.blobs.as_ref(), &objects(job).folder())
        .await
        .expect("list")
        .iter()
        .map(|key| key.as_str().rsplit('/').next().unwrap_or("").to_string())
        .collect()
}

/// Every file in testdata/bad gets its defined answer over HTTP; accepted ones finish.
pub async fn bad_inputs(backend: Backend) {
    let stack = Stack::start(StackOptions::new(backend)).await;
    let cases: &[(&str, u16, &str)] = &[
        ("bad/animated_4frames.gif", 415, "unsupported-format"),
        (
            "bad/bomb_12000x12000_1bit_below_pillow_limit.png",
            422,
            "too-many-pixels",
        ),
        (
            "bad/bomb_60000x60000_1bit_valid.png",
            422,
            "too-many-pixels",
        ),
        (
            "bad/bomb_60000x60000_rgb_header_claim.png",
            422,
            "too-many-pixels",
        ),
        ("bad/empty.jpg", 400, "missing-image"),
        ("bad/jpeg_sof_65000x65000.jpg", 422, "too-many-pixels"),
        ("bad/not_an_image.jpg", 415, "unsupported-format"),
        ("bad/truncated.jpg", 422, "corrupt-image"),
        ("bad/truncated_header_only.jpg", 422, "corrupt-image"),
        ("images/astronaut.heic", 415, "unsupported-format"),
        ("bad/cmyk.jpg", 202, ""),
        ("bad/exif_orientation6_gps.jpg", 202, ""),
        ("bad/exif_orientation6_gps.png", 202, ""),
        ("bad/gray16_lowrange.png", 202, ""),
        ("bad/png_named_as.jpg", 202, ""),
        ("bad/rgb16.png", 202, ""),
        ("bad/rgba_transparent_edges.png", 202, ""),
    ];
    let mut accepted = Vec::new();
    for (path, status, code) in cases {
        let response = stack.upload(read_testdata(path), "?upscale=1").await;
        let got = response.status().as_u16();
        let body: Value = response.json().await.expect("json body");
        assert_eq!(got, *status, "{path}: {body}");
        if *status == 202 {
            accepted.push((path, body["id"].as_str().expect("id").to_string()));
        } else {
            assert_eq!(body["error"]["code"], *code, "{path}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
    for (path, id) in accepted {
        let done = stack.wait_final(&id, JOB_DEADLINE).await;
        assert_eq!(done["state"], "succeeded", "{path}: {done}");
    }
    let oversize = stack.upload(vec![0u8; 21 << 20], "").await;
    assert_eq!(oversize.status(), 413);
    let bad_option = stack
        .upload(read_testdata("images/astronaut.png"), "?upscale=9")
        .await;
    assert_eq!(bad_option.status(), 400);
    stack.shutdown().await;
}

/// SSE: the first event is the current state, then each change, closing after a final one.
pub async fn live_events(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.with_worker = false;
    let stack = Stack::start(options.clone()).await;
    let id = stack.upload_ok("images/astronaut.png").await;
    let response = stack
        .client
        .get(stack.url(&format!("/v1/jobs/{id}/events")))
        .send()
        .await
        .expect("GET events");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/event-stream")
    );
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("first event")
        .expect("chunk")
        .expect("bytes");
    text.push_str(&String::from_utf8_lossy(&first));
    assert!(text.starts_with("event: queued\n"), "{text}");
    // Now a worker picks it up; the stream must report processing and success, then end.
    let processor = std::sync::Arc::new(facefix_worker::processors::PassThrough::default());
    let worker = facefix_worker::Worker::new(
        stack.services.clone(),
        processor,
        facefix_worker::WorkerArgs {
            concurrency: 1,
            drain_timeout: Duration::from_secs(5),
            worker_id: Some("sse-worker".into()),
            retry_backoff: Duration::from_millis(50),
        },
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(stop.clone()));
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        }
    })
    .await;
    assert!(
        rest.is_ok(),
        "the stream did not close after the final state: {text}"
    );
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"queued"), "{text}");
    assert!(events.contains(&"processing"), "{text}");
    assert_eq!(events.last(), Some(&"succeeded"), "{text}");
    assert!(events.contains(&"stage"), "no stage progress: {text}");
    stop.cancel();
    let _ = worker_task.await;
    stack.shutdown().await;
}

/// Over the backlog bound, uploads get 429 with Retry-After and nothing is stored.
pub async fn backpressure(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.with_worker = false;
    options.max_backlog = 2;
    let stack = Stack::start(options).await;
    stack.upload_ok("images/astronaut.png").await;
    stack.upload_ok("images/astronaut.png").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = stack
        .upload(read_testdata("images/astronaut.png"), "")
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "7");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "backlog-full");
    stack.shutdown().await;
}

/// With a 2 s retention, everything of a job is gone soon after: record, objects, purge entry.
pub async fn retention(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.retention = Duration::from_secs(2);
    let stack = Stack::start(options).await;
    let id = stack.upload_ok("images/astronaut.png").await;
    let done = stack.wait_final(&id, JOB_DEADLINE).await;
    assert_eq!(done["state"], "succeeded");
    let job_id: JobId = id.parse().expect("id");
    assert_eq!(objects_of(&stack, &done).await, ["input", "result-1"]);
    assert!(
        stack
            .services
            .store
            .is_scheduled(job_id)
            .await
            .expect("scheduled")
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let gone = stack.job(&id).await.0 == 404
            && !stack
                .services
                .store
                .is_scheduled(job_id)
                .await
                .expect("scheduled")
            && objects_of(&stack, &done).await.is_empty();
        if gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} not purged 20 s after a 2 s retention"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        stack
            .services
            .store
            .get(job_id)
            .await
            .expect("get")
            .is_none()
    );
    stack.shutdown().await;
}

/// A worker on `services` until the returned token is cancelled.
fn start_worker(services: &Services) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let processor = Arc::new(facefix_worker::processors::PassThrough::default());
    let worker = facefix_worker::Worker::new(
        services.clone(),
        processor,
        facefix_worker::WorkerArgs {
            concurrency: 2,
            drain_timeout: Duration::from_secs(5),
            worker_id: Some("after-the-loss".into()),
            retry_backoff: Duration::from_millis(50),
        },
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            worker.run(stop).await.expect("worker runs");
        }
    });
    (stop, task)
}

/// Polls the store until the job is final.
async fn wait_final_in(services: &Services, id: JobId) -> JobRecord {
    let deadline = std::time::Instant::now() + JOB_DEADLINE;
    loop {
        if let Some(record) = services.store.get(id).await.expect("get")
            && record.state.is_final()
        {
            return record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} not final after {JOB_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The job store loses everything (Redis restarted without persistence) while jobs wait
/// in the queue: no accepted job is lost. Workers recreate each from its message, back on
/// the purge schedule, and process it.
pub async fn store_loss_keeps_queued_jobs(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.with_worker = false;
    let stack = Stack::start(options).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id: JobId = stack
            .upload_ok("images/astronaut.png")
            .await
            .parse()
            .expect("id");
        ids.push(id);
    }
    let services = stack.lose_store().await;
    for id in &ids {
        assert_eq!(services.store.get(*id).await.expect("get"), None);
    }
    let (stop, worker) = start_worker(&services);
    for id in &ids {
        let record = wait_final_in(&services, *id).await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        assert!(
            services.store.is_scheduled(*id).await.expect("scheduled"),
            "a recreated job is back on the purge schedule"
        );
        let result = JobObjects::of(&record).result(record.attempts);
        assert!(services.blobs.exists(&result).await.expect("exists"));
    }
    stop.cancel();
    let _ = worker.await;
    stack.shutdown().await;
}

/// The job store loses everything after jobs succeeded (the measured incident: a flush,
/// and the objects stayed): the reconciliation pass still deletes every object at expiry,
/// from what the object store says alone.
pub async fn store_loss_keeps_the_retention_promise(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.retention = Duration::from_secs(4);
    options.with_sweeper = false;
    let stack = Stack::start(options.clone()).await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let id = stack.upload_ok("images/astronaut.png").await;
        jobs.push(stack.wait_final(&id, JOB_DEADLINE).await);
    }
    let mut stored = 0;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded");
        stored += objects_of(&stack, job).await.len();
    }
    assert_eq!(stored, 2 * jobs.len(), "an input and a result per job");
    let services = stack.lose_store().await;
    let stop = CancellationToken::new();
    let sweeper = tokio::spawn(
        Sweeper::new(
            services.store.clone(),
            services.blobs.clone(),
            options.retention_args(),
        )
        .run(stop.clone()),
    );
    let latest: chrono::DateTime<chrono::Utc> = jobs
        .iter()
        .filter_map(|job| job["expires_at"].as_str()?.parse().ok())
        .max()
        .expect("expiry times");
    // Past the last expiry, at most one reconciliation interval and a pass later.
    let promise = latest + chrono::Duration::seconds(5);
    loop {
        let left = list_all(services.blobs.as_ref(), "jobs/")
            .await
            .expect("list");
        if left.is_empty() {
            break;
        }
        assert!(
            chrono::Utc::now() < promise,
            "{} objects outlived their expiry by 5 s: {left:?}",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    let _ = sweeper.await;
    stack.shutdown().await;
}
