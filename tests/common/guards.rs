//! What the API refuses, over HTTP, on both backends: a chunked body over the limit, a body
//! too slow to wait for, uploads over the memory budget, requests from foreign web pages;
//! and the security headers on everything it answers.

use super::raw_http::{RawResponse, RawUpload};
use super::{Backend, Stack, StackOptions, read_testdata};
use facefix_shared::ports::blob::list_all;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::{Duration, Instant};

const PNG: &str = "image/png";

/// Nothing of a refused upload was kept: no object, no record, no queue message.
async fn assert_nothing_stored(stack: &Stack, what: &str) {
    let objects = list_all(stack.services.blobs.as_ref(), "")
        .await
        .expect("list the objects");
    assert!(objects.is_empty(), "{what}: objects stored: {objects:?}");
    let queued = stack.services.store.oldest_queued().await.expect("store");
    assert_eq!(queued, None, "{what}: a job record was written");
    let stats = stack.services.queue.stats().await.expect("queue stats");
    assert_eq!(stats.ready, 0, "{what}: a job was queued");
}

fn error_code(response: &RawResponse) -> String {
    let body: Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {response:?}"));
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A chunked body without `Content-Length` is cut off once it passes the byte limit:
/// 413 `too-large`, and nothing is stored.
pub async fn chunked_over_the_limit(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.limits.max_upload_bytes = 256 * 1024;
    let stack = Stack::start(options).await;
    let upload = RawUpload::start(&stack.base, "/v1/jobs", PNG, None)
        .await
        .expect("connect");
    let (mut sender, reader) = (upload.sender, upload.reader);
    // Sent beside the read: the server stops reading at the limit, and a sender that
    // waited for its writes to finish would wait for ever.
    let sending = tokio::spawn(async move {
        let chunk = vec![0x55u8; 16 * 1024];
        for _ in 0..32 {
            if sender.send(&chunk).await.is_err() {
                return;
            }
        }
        let _ = sender.finish().await;
    });
    let response = tokio::time::timeout(Duration::from_secs(10), reader.response())
        .await
        .expect("answered within 10 s")
        .expect("a response before the connection closed");
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(error_code(&response), "too-large", "{response:?}");
    sending.abort();
    assert_nothing_stored(&stack, "chunked over the limit").await;
    stack.shutdown().await;
}

/// A body that stalls is answered 408 `upload-timeout` at the upload timeout, whether its
/// length was declared or not, and nothing is stored.
pub async fn slow_bodies_time_out(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.uploads.upload_timeout = Duration::from_secs(1);
    let stack = Stack::start(options).await;
    let image = read_testdata("images/astronaut.png");
    for length in [None, Some(image.len())] {
        let mut upload = RawUpload::start(&stack.base, "/v1/jobs", PNG, length)
            .await
            .expect("connect");
        let started = Instant::now();
        upload
            .sender
            .send(&image[..4096])
            .await
            .expect("first bytes");
        let response = tokio::time::timeout(Duration::from_secs(10), upload.reader.response())
            .await
            .expect("answered within 10 s")
            .expect("a response");
        let waited = started.elapsed();
        assert_eq!(response.status, 408, "length {length:?}: {response:?}");
        assert_eq!(error_code(&response), "upload-timeout", "{response:?}");
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
            "length {length:?}: answered after {waited:?}, the timeout is 1 s"
        );
    }
    assert_nothing_stored(&stack, "stalled bodies").await;
    stack.shutdown().await;
}

/// While uploads hold the memory budget, a new upload is refused at once with 503 `busy`
/// and `Retry-After`; once they are gone, it is accepted.
pub async fn uploads_over_the_memory_budget_are_refused(backend: Backend) {
    let mut options = StackOptions::new(backend);
    options.uploads.max_buffered_upload_bytes = 1024 * 1024;
    options.uploads.upload_timeout = Duration::from_secs(2);
    let stack = Stack::start(options).await;
    // Declares 900 KiB, sends a little and stalls: its whole declared length is held.
    let mut holder = RawUpload::start(&stack.base, "/v1/jobs", PNG, Some(900 * 1024))
        .await
        .expect("connect");
    holder
        .sender
        .send(&[0x89; 1024])
        .await
        .expect("first bytes");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let image = read_testdata("images/astronaut.png");
    assert!(
        image.len() > 200 * 1024,
        "the photo must not fit beside the holder"
    );
    let started = Instant::now();
    let refused = stack.upload(image.clone(), "").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}, not at once",
        started.elapsed()
    );
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "busy", "{body}");

    let held = holder.reader.response().await.expect("the holder's answer");
    assert_eq!(held.status, 408, "{held:?}");
    let accepted = stack.upload(image, "").await;
    assert_eq!(accepted.status(), 202, "the budget is free again");
    stack.shutdown().await;
}

/// Asserts the headers the API promises on `what`: a content security policy that
/// forbids framing, no type sniffing, no referrer, no framing for older browsers.
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_string()
    };
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: CSP {policy:?} lets other pages frame it"
    );
    assert!(
        policy.contains("default-src"),
        "{what}: CSP {policy:?} has no default"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
}

/// Every kind of answer carries the security headers: the page, its files, API JSON,
/// errors, the OpenAPI document, the probes. `/metrics` is not on the public port.
pub async fn security_headers_everywhere(backend: Backend) {
    let stack = Stack::start(StackOptions::new(backend)).await;
    let id = stack.upload_ok("images/astronaut.png").await;
    let job = format!("/v1/jobs/{id}");
    let gets = [
        ("/", 200),
        ("/static/app.js", 200),
        ("/v1/models", 200),
        (job.as_str(), 200),
        ("/v1/jobs/00000000000000000000000000", 404),
        ("/openapi.json", 200),
        ("/healthz", 200),
        ("/readyz", 200),
        ("/nothing-here", 404),
        ("/metrics", 404),
    ];
    for (path, status) in gets {
        let response = stack.client.get(stack.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), status, "GET {path}");
        assert_security_headers(response.headers(), &format!("GET {path}"));
    }
    let page = stack
        .client
        .get(stack.url("/"))
        .send()
        .await
        .expect("GET /");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("CSP")
        .to_string();
    assert!(
        policy.contains("script-src 'self'"),
        "the page keeps its own policy: {policy}"
    );
    let refused = stack.upload(b"not an image".to_vec(), "").await;
    assert_eq!(refused.status(), 415);
    assert_security_headers(refused.headers(), "a refused upload");
    let accepted = stack
        .upload(read_testdata("images/astronaut.png"), "")
        .await;
    assert_eq!(accepted.status(), 202);
    assert_security_headers(accepted.headers(), "an accepted upload");
    stack.shutdown().await;
}

/// A page of a foreign origin can neither upload nor read; the API's own page and the
/// origins listed in `--cors-origins` can.
pub async fn cross_origin_requests_are_refused_unless_listed(backend: Backend) {
    const LISTED: &str = "https://app.example.org";
    const FOREIGN: &str = "https://evil.example";
    let mut options = StackOptions::new(backend);
    options.with_worker = false;
    options.cors.cors_origins = vec![LISTED.to_string()];
    let stack = Stack::start(options).await;
    let image = read_testdata("images/astronaut.png");
    let post = |origin: &str| {
        stack
            .client
            .post(stack.url("/v1/jobs"))
            .header("content-type", PNG)
            .header("origin", origin)
            .body(image.clone())
            .send()
    };

    let refused = post(FOREIGN).await.expect("POST");
    assert_eq!(refused.status(), 403);
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_security_headers(refused.headers(), "a refused origin");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "origin-not-allowed", "{body}");
    let read = stack
        .client
        .get(stack.url("/v1/models"))
        .header("origin", FOREIGN)
        .send()
        .await
        .expect("GET");
    assert_eq!(read.status(), 403, "a foreign page cannot read either");
    let preflight = |origin: &str| {
        stack
            .client
            .request(reqwest::Method::OPTIONS, stack.url("/v1/jobs"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let foreign_preflight = preflight(FOREIGN).await.expect("OPTIONS");
    assert_eq!(foreign_preflight.status(), 403);
    assert_nothing_stored(&stack, "a foreign origin's upload").await;

    let listed_preflight = preflight(LISTED).await.expect("OPTIONS");
    assert_eq!(listed_preflight.status(), 200);
    let headers = listed_preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], LISTED);
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .expect("methods");
    assert!(methods.contains("POST"), "{methods}");
    let listed = post(LISTED).await.expect("POST");
    assert_eq!(listed.status(), 202);
    assert_eq!(listed.headers()["access-control-allow-origin"], LISTED);
    let exposed = listed.headers()["access-control-expose-headers"]
        .to_str()
        .expect("exposed")
        .to_ascii_lowercase();
    assert!(exposed.contains("location"), "{exposed}");

    // The API's own page: its origin is the address the request was sent to.
    let own = post(&stack.base).await.expect("POST");
    assert_eq!(own.status(), 202, "the API's own page may upload");
    stack.shutdown().await;
}
