//! Optional API keys over HTTP (`--api-keys-file`): 401 without a key in force, jobs
//! visible only to the key that made them, each key's rate (429 `rate-limited` with
//! `Retry-After`) and concurrent-job quota (429 `quota-exceeded`), reloading the file, and
//! one budget per key shared by every API replica on one Redis.

mod common;

use common::{Backend, Stack, StackOptions, read_testdata, real_services_enabled};
use facefix_api::keys::ApiKeyArgs;
use facefix_shared::key_limits::{KeyLimits, RedisKeyLimits, Take};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

const PHOTO: &str = "images/tiny_face_24x28.png";

fn digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A keys file line for `key`.
fn line(name: &str, key: &str, per_minute: u32, max_concurrent: u32) -> String {
    format!("{name} {} {per_minute} {max_concurrent}\n", digest(key))
}

fn write_keys(path: &Path, text: &str) {
    // Written aside and renamed, as an editor or a Secret update does: the watcher never
    // reads half a file.
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).expect("write keys");
    std::fs::rename(&aside, path).expect("rename keys");
}

async fn upload(stack: &Stack, key: Option<&str>) -> reqwest::Response {
    let mut request = stack
        .client
        .post(stack.url("/v1/jobs?upscale=1"))
        .header("content-type", "image/png")
        .body(read_testdata(PHOTO));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("POST /v1/jobs")
}

/// Uploads with `key`, asserting 202; the job's id.
async fn upload_ok(stack: &Stack, key: &str) -> String {
    let response = upload(stack, Some(key)).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

async fn get(stack: &Stack, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = stack.client.get(stack.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("GET")
}

/// The status and error code of a refusal.
async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

async fn start(backend: Backend, keys_file: &Path) -> Stack {
    let mut options = StackOptions::new(backend);
    // Jobs stay queued: the quota counts them.
    options.with_worker = false;
    options.keys = ApiKeyArgs {
        api_keys_file: Some(keys_file.to_path_buf()),
        api_keys_reload_interval: Duration::from_millis(100),
    };
    Stack::start(options).await
}

async fn keys_over_http(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys_file = dir.path().join("api-keys");
    write_keys(
        &keys_file,
        &format!(
            "# name sha256 jobs_per_minute max_concurrent\n{}{}",
            line("alice", "alice-key", 3, 10),
            line("bob", "bob-key", 100, 1)
        ),
    );
    let stack = start(backend, &keys_file).await;

    // No key, a wrong one, or the digest itself: 401, and the page says how to send one.
    for key in [None, Some("wrong-key"), Some(digest("alice-key").as_str())] {
        let response = get(&stack, "/v1/models", key).await;
        let challenge = response.headers().get("www-authenticate").cloned();
        assert_eq!(
            refusal(response).await,
            (401, "unauthorized".to_string()),
            "{key:?}"
        );
        assert_eq!(
            challenge.as_ref().map(|v| v.to_str().unwrap_or("")),
            Some("Bearer")
        );
    }
    assert_eq!(refusal(upload(&stack, None).await).await.0, 401);
    // The page, its files and the probes need no key.
    for path in ["/", "/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(
            get(&stack, path, None).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(
        get(&stack, "/v1/models", Some("alice-key")).await.status(),
        StatusCode::OK
    );

    // A job is its key's: another key gets 404 on every route of it, and cannot delete it.
    let job = upload_ok(&stack, "alice-key").await;
    let body: Value = get(&stack, &format!("/v1/jobs/{job}"), Some("alice-key"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["owner"], "alice", "{body}");
    for path in ["", "/input", "/result"] {
        let path = format!("/v1/jobs/{job}{path}");
        assert_eq!(
            refusal(get(&stack, &path, Some("bob-key")).await).await,
            (404, "not-found".to_string()),
            "{path}"
        );
    }
    let events = format!("/v1/jobs/{job}/events?key=");
    assert_eq!(
        get(&stack, &format!("{events}bob-key"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&stack, &format!("{events}alice-key"), None)
            .await
            .status(),
        StatusCode::OK
    );
    // The query key is for the events stream only.
    let elsewhere = format!("/v1/jobs/{job}?key=alice-key");
    assert_eq!(
        get(&stack, &elsewhere, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let deleted = stack
        .client
        .delete(stack.url(&format!("/v1/jobs/{job}")))
        .bearer_auth("bob-key")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&stack, &format!("/v1/jobs/{job}"), Some("alice-key"))
            .await
            .status(),
        StatusCode::OK
    );

    // Rate: alice may submit 3 a minute; the 4th waits about 20 s for its token.
    upload_ok(&stack, "alice-key").await;
    upload_ok(&stack, "alice-key").await;
    let limited = upload(&stack, Some("alice-key")).await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert_eq!(refusal(limited).await, (429, "rate-limited".to_string()));
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");

    // Quota: bob may have one unfinished job; once it is gone he may submit again.
    let first = upload_ok(&stack, "bob-key").await;
    assert_eq!(
        refusal(upload(&stack, Some("bob-key")).await).await,
        (429, "quota-exceeded".to_string())
    );
    let deleted = stack
        .client
        .delete(stack.url(&format!("/v1/jobs/{first}")))
        .bearer_auth("bob-key")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    upload_ok(&stack, "bob-key").await;

    // Rotation: the file now lists carol only; alice's key stops working without a restart.
    write_keys(&keys_file, &line("carol", "carol-key", 10, 10));
    let since = Instant::now();
    while get(&stack, "/v1/models", Some("carol-key")).await.status() != StatusCode::OK {
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "carol's key never took effect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        get(&stack, "/v1/models", Some("alice-key")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A file that does not parse keeps the keys in force: never an open service.
    write_keys(&keys_file, "carol not-a-digest 1 1\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get(&stack, "/v1/models", Some("carol-key")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&stack, "/v1/models", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Counted by key name, never by key.
    let exposition = facefix_shared::metrics::metrics().render();
    assert!(
        exposition
            .contains(r#"facefix_api_key_requests_total{key="alice",outcome="rate-limited"}"#),
        "{exposition}"
    );
    assert!(
        exposition
            .contains(r#"facefix_api_key_requests_total{key="bob",outcome="quota-exceeded"}"#)
    );
    assert!(!exposition.contains("alice-key") && !exposition.contains(&digest("alice-key")));
    stack.shutdown().await;
}

#[tokio::test]
async fn keys_over_http_embedded() {
    keys_over_http(Backend::Embedded).await;
}

#[tokio::test]
async fn keys_over_http_on_the_services() {
    if !real_services_enabled("keys_over_http_on_the_services") {
        return;
    }
    keys_over_http(Backend::Real).await;
}

/// SIGHUP reloads the file at once, without waiting for the next look at it.
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys_file = dir.path().join("api-keys");
    write_keys(&keys_file, &line("alice", "alice-key", 10, 10));
    let mut options = StackOptions::new(Backend::Embedded);
    options.with_worker = false;
    options.keys = ApiKeyArgs {
        api_keys_file: Some(keys_file.clone()),
        // Never within this test: only the signal can make the change visible.
        api_keys_reload_interval: Duration::from_secs(3600),
    };
    let stack = Stack::start(options).await;
    // A request answered means the watcher has run, and listens for SIGHUP, by now.
    assert_eq!(
        get(&stack, "/v1/models", Some("alice-key")).await.status(),
        StatusCode::OK
    );
    write_keys(&keys_file, &line("dave", "dave-key", 10, 10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&stack, "/v1/models", Some("dave-key")).await.status(),
        StatusCode::UNAUTHORIZED,
        "the file changed but nothing should have reloaded it yet"
    );
    let signalled = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(signalled.success());
    let since = Instant::now();
    while get(&stack, "/v1/models", Some("dave-key")).await.status() != StatusCode::OK {
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "SIGHUP did not reload the keys"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        get(&stack, "/v1/models", Some("alice-key")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    stack.shutdown().await;
}

/// Two API replicas on one Redis take from one bucket per key: a key's rate is its rate
/// across the deployment, not per replica.
#[tokio::test]
async fn replicas_share_a_keys_budget() {
    if !real_services_enabled("replicas_share_a_keys_budget") {
        return;
    }
    let url = std::env::var("FACEFIX_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_string());
    let prefix = format!("facefix-test-keys-{}:", uuid::Uuid::new_v4().simple());
    let one = RedisKeyLimits::connect(&url, &prefix).expect("replica one");
    let two = RedisKeyLimits::connect(&url, &prefix).expect("replica two");
    assert_eq!(one.take("shared", 3).await.expect("take"), Take::Taken);
    assert_eq!(two.take("shared", 3).await.expect("take"), Take::Taken);
    assert_eq!(one.take("shared", 3).await.expect("take"), Take::Taken);
    let Take::Empty { retry_after } = two.take("shared", 3).await.expect("take") else {
        panic!("replica two took a 4th token of a 3-a-minute key");
    };
    assert!(retry_after <= Duration::from_secs(20), "{retry_after:?}");
    // Another key's bucket is its own.
    assert_eq!(two.take("other", 3).await.expect("take"), Take::Taken);
    // Jobs are shared too: the quota counts what either replica started.
    let id = facefix_shared::job::JobId::new_random();
    one.add_job("shared", id).await.expect("add");
    assert_eq!(two.jobs("shared").await.expect("jobs"), vec![id]);
    two.forget_jobs("shared", &[id]).await.expect("forget");
    assert!(one.jobs("shared").await.expect("jobs").is_empty());
    let client = redis::Client::open(url).expect("Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}key-bucket:shared"))
        .arg(format!("{prefix}key-bucket:other"))
        .query_async(&mut conn)
        .await
        .expect("clean up");
}
