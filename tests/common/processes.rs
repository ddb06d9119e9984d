//! facefix roles as real processes (the built binary) on the real services, for tests that
//! kill, signal or trace them.

use super::{Backend, StackOptions, port_args, remove_test_data};
use facefix_shared::config::{BlobArgs, QueueArgs, StoreArgs};
use facefix_shared::connect::Services;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The environment that points roles at the real services, with names unique to one test.
pub fn service_env(delivery_limit: u32) -> Vec<(String, String)> {
    let dir = std::env::temp_dir();
    let mut options = StackOptions::new(Backend::Real);
    options.delivery_limit = delivery_limit;
    let (queue, store, blob) = port_args(&options, &dir);
    let mut env = vec![
        ("FACEFIX_QUEUE_URL", queue.queue_url.unwrap_or_default()),
        ("FACEFIX_QUEUE_PREFIX", queue.queue_prefix),
        ("FACEFIX_QUEUE_DELIVERY_LIMIT", delivery_limit.to_string()),
        ("FACEFIX_STORE_URL", store.store_url.unwrap_or_default()),
        ("FACEFIX_STORE_PREFIX", store.store_prefix),
        ("FACEFIX_BLOB_URL", blob.blob_url.unwrap_or_default()),
        ("FACEFIX_S3_ENDPOINT", blob.s3_endpoint.unwrap_or_default()),
        ("FACEFIX_S3_PATH_STYLE", "true".to_string()),
        (
            "FACEFIX_S3_ACCESS_KEY_ID",
            blob.s3_access_key_id.unwrap_or_default(),
        ),
        (
            "FACEFIX_S3_SECRET_ACCESS_KEY",
            blob.s3_secret_access_key.unwrap_or_default(),
        ),
        ("FACEFIX_S3_CREATE_BUCKET", "true".to_string()),
        ("FACEFIX_NO_MODELS", "true".to_string()),
        ("FACEFIX_LOG", "warn".to_string()),
    ];
    env.retain(|(_, v)| !v.is_empty());
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The value of `name` in a [`service_env`] list.
fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Deletes the queues, Redis keys and objects of a [`service_env`] once its processes have
/// stopped (see [`remove_test_data`]).
pub async fn remove_service_data(env: &[(String, String)]) {
    let text = |name: &str| env_value(env, name).map(str::to_string);
    let queue = QueueArgs {
        queue_url: text("FACEFIX_QUEUE_URL"),
        queue_prefix: text("FACEFIX_QUEUE_PREFIX").unwrap_or_default(),
        queue_delivery_limit: 3,
        publish_timeout: Duration::from_secs(10),
    };
    let store = StoreArgs {
        store_url: text("FACEFIX_STORE_URL"),
        store_prefix: text("FACEFIX_STORE_PREFIX").unwrap_or_default(),
        store_pool_size: 2,
    };
    let blob = BlobArgs {
        blob_url: text("FACEFIX_BLOB_URL"),
        data_dir: std::env::temp_dir(),
        s3_endpoint: text("FACEFIX_S3_ENDPOINT"),
        s3_region: "us-east-1".to_string(),
        s3_path_style: true,
        s3_access_key_id: text("FACEFIX_S3_ACCESS_KEY_ID"),
        s3_secret_access_key: text("FACEFIX_S3_SECRET_ACCESS_KEY"),
        s3_create_bucket: false,
    };
    match Services::connect(&queue, &store, &blob).await {
        Ok(services) => {
            remove_test_data(&queue, &store.store_prefix, services.blobs.as_ref()).await
        }
        Err(e) => eprintln!("cleanup: cannot connect to the services: {e}"),
    }
}

/// A role process, killed when dropped (so a failing test leaves nothing running).
pub struct RoleProcess {
    pub child: Child,
    pub base: String,
    /// Where its `/metrics` is: the API's private metrics port (`api`, `serve`), or the
    /// probe port that is `base` itself (`worker`, `sweeper`).
    pub metrics_base: String,
}

impl RoleProcess {
    pub fn spawn(role: &str, env: &[(String, String)], extra: &[&str]) -> RoleProcess {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_facefix"));
        command
            .arg(role)
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        // A port of its own rather than the default 9464, which parallel tests would share.
        let metrics_port = if matches!(role, "api" | "serve") {
            let metrics_port = free_port();
            command.args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]);
            metrics_port
        } else {
            port
        };
        command
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn facefix {role}: {e}"));
        RoleProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            metrics_base: format!("http://127.0.0.1:{metrics_port}"),
        }
    }

    /// Waits until `/healthz` answers.
    pub async fn wait_healthy(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the process exited early: {status}");
            }
            if client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not healthy after 60 s",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {pid} did not exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts an API and a worker (`worker_args` added to its command line) on `env` and
/// waits until both answer `/healthz`.
pub async fn start_api_and_worker(
    env: &[(String, String)],
    client: &reqwest::Client,
    worker_args: &[&str],
) -> (RoleProcess, RoleProcess) {
    let mut api = RoleProcess::spawn("api", env, &[]);
    api.wait_healthy(client).await;
    let mut worker = RoleProcess::spawn("worker", env, worker_args);
    worker.wait_healthy(client).await;
    (api, worker)
}

/// Polls a job until `accept(state)` or the deadline; returns the record.
pub async fn wait_state(
    client: &reqwest::Client,
    api: &str,
    id: &str,
    accept: &[&str],
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        // A poller must survive a dropped connection: the API closes idle keep-alive
        // connections (5 s), and a pooled one can be reused just as it closes
        // (`IncompleteMessage`), e.g. after the test thread blocked on a process exit.
        let body: Value = match client.get(format!("{api}/v1/jobs/{id}")).send().await {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(e) if e.is_request() || e.is_connect() => {
                serde_json::json!({ "transport_error": e.to_string() })
            }
            Err(e) => panic!("GET job: {e}"),
        };
        if body["state"].as_str().is_some_and(|s| accept.contains(&s)) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not in {accept:?} within {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads raw bytes; returns the job id if accepted.
pub async fn upload(
    client: &reqwest::Client,
    api: &str,
    bytes: Vec<u8>,
    query: &str,
    headers: &[(&str, &str)],
) -> Option<String> {
    let mut request = client
        .post(format!("{api}/v1/jobs{query}"))
        .header("content-type", "application/octet-stream")
        .body(bytes);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.ok()?;
    if response.status() != 202 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_string)
}

/// A job that takes seconds even without models: the 33 MP photo upscaled ×2.
pub const SLOW_IMAGE: &str = "images/large_7680x4320.jpg";
pub const SLOW_QUERY: &str = "?upscale=2&format=jpeg";

/// An API and one worker on the real services, the worker busy with a slow job.
pub struct SlowJobInFlight {
    pub env: Vec<(String, String)>,
    pub client: reqwest::Client,
    pub api: RoleProcess,
    pub worker: RoleProcess,
    /// The job, seen `processing`.
    pub id: String,
}

/// Spawns the API and a worker (`worker_args` added to its command line), uploads
/// [`SLOW_IMAGE`] and waits until the worker is processing it.
pub async fn slow_job_in_flight(worker_args: &[&str]) -> SlowJobInFlight {
    let env = service_env(3);
    let client = reqwest::Client::new();
    let (api, worker) = start_api_and_worker(&env, &client, worker_args).await;
    let id = upload(
        &client,
        &api.base,
        super::read_testdata(SLOW_IMAGE),
        SLOW_QUERY,
        &[],
    )
    .await
    .expect("accepted");
    wait_state(
        &client,
        &api.base,
        &id,
        &["processing"],
        Duration::from_secs(60),
    )
    .await;
    SlowJobInFlight {
        env,
        client,
        api,
        worker,
        id,
    }
}
