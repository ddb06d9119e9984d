//! Slow uploads cannot starve the others: `facefix serve` (embedded, a real process, so its
//! memory can be read) with a 3 s upload timeout and a backlog bound of 50, while 200
//! connections on loopback trickle chunked bodies without `Content-Length`. A normal
//! upload must still be accepted within 1 s, the process must stay under the memory bound
//! the README documents, and every slow upload must be answered 408 soon after the
//! timeout. Before the upload flow, each slow upload held a backlog slot from its first
//! byte: the 51st locked everyone else out with 429.
//!
//! Also here, as it needs the process: `/metrics` answers on the private metrics port and
//! 404 on the public one.

mod common;

use common::processes::RoleProcess;
use common::raw_http::RawUpload;
use common::read_testdata;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SLOW_UPLOADS: usize = 200;
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3);
/// Each slow upload: a first chunk, then a small one every half second.
const FIRST_CHUNK: usize = 16 * 1024;
const TRICKLE_CHUNK: usize = 1024;
const TRICKLE_EVERY: Duration = Duration::from_millis(500);
/// A normal upload beside them must be accepted within this.
const ACCEPT_WITHIN: Duration = Duration::from_secs(1);
/// The documented bound on the API process's peak resident memory in this test (README,
/// "Limits"): a debug build of the whole embedded stack, 200 open uploads included.
const RSS_BOUND_MIB: u64 = 64;

/// A line of `/proc/<pid>/status` in MiB (`VmRSS`, `VmHWM`: the peak).
fn memory_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kib / 1024
}

/// One slow upload: its answer's status (None: closed without one) and when it came.
async fn slow_upload(base: String, started: Arc<AtomicUsize>) -> (Option<u16>, Duration) {
    let begun = Instant::now();
    let mut upload = RawUpload::start(&base, "/v1/jobs?upscale=1", "image/png", None)
        .await
        .expect("connect");
    upload
        .sender
        .send(&[0x89; FIRST_CHUNK])
        .await
        .expect("first chunk");
    started.fetch_add(1, Ordering::Relaxed);
    let trickle = tokio::spawn(
        upload
            .sender
            .trickle(&[0x42; TRICKLE_CHUNK], TRICKLE_EVERY, 40),
    );
    let answer = tokio::time::timeout(UPLOAD_TIMEOUT * 4, upload.reader.response()).await;
    trickle.abort();
    let status = answer.ok().flatten().map(|response| response.status);
    (status, begun.elapsed())
}

#[tokio::test]
async fn slow_uploads_neither_lock_others_out_nor_hold_memory() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let env = vec![
        (
            "FACEFIX_DATA_DIR".to_string(),
            data_dir.path().display().to_string(),
        ),
        ("FACEFIX_NO_MODELS".to_string(), "true".to_string()),
        ("FACEFIX_LOG".to_string(), "warn".to_string()),
    ];
    let timeout = format!("{}s", UPLOAD_TIMEOUT.as_secs());
    let extra = ["--upload-timeout", &timeout, "--max-backlog", "50"];
    let mut serve = RoleProcess::spawn("serve", &env, &extra);
    let client = reqwest::Client::new();
    serve.wait_healthy(&client).await;
    let pid = serve.child.id();

    let public = client.get(format!("{}/metrics", serve.base)).send().await;
    assert_eq!(public.expect("GET /metrics").status(), 404, "public port");
    let private = client
        .get(format!("{}/metrics", serve.metrics_base))
        .send()
        .await
        .expect("GET the metrics port");
    assert_eq!(private.status(), 200);
    let exposition = private.text().await.expect("metrics");
    assert!(
        exposition.contains("facefix_http_requests_total"),
        "{exposition}"
    );

    let rss_before = memory_mib(pid, "VmRSS");
    let started = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> = (0..SLOW_UPLOADS)
        .map(|_| tokio::spawn(slow_upload(serve.base.clone(), started.clone())))
        .collect();
    let deadline = Instant::now() + UPLOAD_TIMEOUT / 2;
    while started.load(Ordering::Relaxed) < SLOW_UPLOADS {
        assert!(
            Instant::now() < deadline,
            "only {} slow uploads started",
            started.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let image = read_testdata("images/astronaut.png");
    let sent = Instant::now();
    let normal = client
        .post(format!("{}/v1/jobs?upscale=1", serve.base))
        .header("content-type", "image/png")
        .body(image)
        .send()
        .await
        .expect("a normal upload");
    let accepted_in = sent.elapsed();
    let status = normal.status();
    let body = normal.text().await.unwrap_or_default();
    assert_eq!(status, 202, "a normal upload beside the slow ones: {body}");
    assert!(
        accepted_in < ACCEPT_WITHIN,
        "accepted after {accepted_in:?} beside {SLOW_UPLOADS} slow uploads"
    );
    let rss_while_held = memory_mib(pid, "VmRSS");

    let mut answers = Vec::new();
    for task in slow {
        answers.push(task.await.expect("slow upload task"));
    }
    let timed_out = answers.iter().filter(|(s, _)| *s == Some(408)).count();
    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
    let peak = memory_mib(pid, "VmHWM");
    eprintln!(
        "{SLOW_UPLOADS} slow uploads: normal upload accepted in {accepted_in:?}; API RSS \
         {rss_before} MiB before, {rss_while_held} MiB while they were held, peak {peak} MiB \
         (bound {RSS_BOUND_MIB} MiB); {timed_out} answered 408, the last after {slowest:?}"
    );
    assert_eq!(
        timed_out, SLOW_UPLOADS,
        "every slow upload is cut off with 408: {answers:?}"
    );
    assert!(
        slowest < UPLOAD_TIMEOUT + Duration::from_secs(3),
        "the last slow upload was answered after {slowest:?} (timeout {UPLOAD_TIMEOUT:?})"
    );
    assert!(
        peak < RSS_BOUND_MIB,
        "peak RSS {peak} MiB is over the documented {RSS_BOUND_MIB} MiB"
    );
    assert!(serve.terminate(Duration::from_secs(30)).success());
}
