//! A whole facefix stack inside the test process (API on port 0, worker, sweeper), on the
//! embedded adapters or on the real services started by `deploy/dev-services.sh`.

#![allow(dead_code)]

use facefix_api::backlog::{BacklogArgs, BacklogMonitor};
use facefix_api::keys::{ApiKeyArgs, key_access};
use facefix_api::security::{CorsArgs, OriginPolicy};
use facefix_api::upload::flow::{UploadFlow, UploadFlowArgs};
use facefix_api::{AppState, RunningServer};
use facefix_shared::config::{BlobArgs, QueueArgs, RetentionArgs, StoreArgs};
use facefix_shared::connect::Services;
use facefix_shared::intake::UploadLimits;
use facefix_shared::ports::BlobStore;
use facefix_shared::ports::blob::list_all;
use facefix_shared::queue::AmqpQueue;
use facefix_shared::retention::Sweeper;
use facefix_shared::webhook::WebhookArgs;
use facefix_worker::processors::ImageProcessor;
use facefix_worker::processors::PassThrough;
use facefix_worker::{Worker, WorkerArgs};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Which adapters a stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Real,
}

/// True when the real services must be tested (CI and `scripts/test.sh` set it). Without
/// it, real-service tests say so and return.
pub fn real_services_enabled(test: &str) -> bool {
    let enabled = std::env::var("FACEFIX_TEST_SERVICES").is_ok_and(|v| v == "1");
    if !enabled {
        eprintln!(
            "skipped {test}: FACEFIX_TEST_SERVICES is not set (scripts/test.sh starts the services and sets it)"
        );
    }
    enabled
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub mod guards;
pub mod processes;
pub mod raw_http;
pub mod scenarios;

/// Deletes every Redis key under `prefix` (SCAN, not KEYS: the server is shared).
async fn delete_redis_keys(prefix: &str) {
    let url = env_or("FACEFIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0");
    let client = redis::Client::open(url).expect("Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Deletes what one test created on the shared servers: the queues and exchanges of its
/// queue prefix, its Redis keys and every object `blobs` (rooted at the test's own blob
/// prefix) holds. Tests have names of their own, so this never touches another test's.
/// Failures are reported, not fatal: the test itself already passed.
pub async fn remove_test_data(queue_args: &QueueArgs, store_prefix: &str, blobs: &dyn BlobStore) {
    let queue = AmqpQueue::connect(
        queue_args.queue_url.as_deref().unwrap_or_default(),
        queue_args,
    )
    .await;
    match queue {
        Ok(queue) => {
            if let Err(e) = queue.delete_topology().await {
                eprintln!("cleanup of queues {}.*: {e}", queue_args.queue_prefix);
            }
        }
        Err(e) => eprintln!("cleanup: cannot reach RabbitMQ: {e}"),
    }
    delete_redis_keys(store_prefix).await;
    match list_all(blobs, "").await {
        Ok(keys) => {
            for key in keys {
                if let Err(e) = blobs.delete(&key).await {
                    eprintln!("cleanup of {key}: {e}");
                }
            }
        }
        Err(e) => eprintln!("cleanup: cannot list the test's objects: {e}"),
    }
}

/// `testdata/<path>` in the repository.
pub fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(path)
}

pub fn read_testdata(path: &str) -> Vec<u8> {
    let full = testdata(path);
    std::fs::read(&full).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (generated files: run `bash scripts/setup-testdata.sh`)",
            full.display()
        )
    })
}

/// Settings of a test stack.
#[derive(Clone)]
pub struct StackOptions {
    pub backend: Backend,
    pub retention: Duration,
    pub max_backlog: u64,
    pub with_worker: bool,
    pub concurrency: u16,
    pub delivery_limit: u32,
    pub limits: UploadLimits,
    pub uploads: UploadFlowArgs,
    pub cors: CorsArgs,
    pub with_sweeper: bool,
    pub reconcile_interval: Duration,
    /// The webhook policy of the API and the worker.
    pub webhooks: WebhookArgs,
    /// API keys (`--api-keys-file`); off by default.
    pub keys: ApiKeyArgs,
}

impl StackOptions {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            retention: Duration::from_secs(900),
            max_backlog: 1000,
            with_worker: true,
            concurrency: 2,
            delivery_limit: 3,
            limits: UploadLimits::default(),
            uploads: UploadFlowArgs::default(),
            cors: CorsArgs::default(),
            with_sweeper: true,
            reconcile_interval: Duration::from_secs(1),
            webhooks: WebhookArgs::default(),
            keys: ApiKeyArgs::default(),
        }
    }

    /// The retention settings of a stack with these options.
    pub fn retention_args(&self) -> RetentionArgs {
        RetentionArgs {
            retention: self.retention,
            sweep_interval: Duration::from_millis(200),
            purge_lease: Duration::from_secs(5),
            reconcile_interval: self.reconcile_interval,
        }
    }
}

/// The configuration of each port for a backend, with names unique to this stack so tests
/// can run in parallel against the same servers.
pub fn port_args(
    options: &StackOptions,
    data_dir: &std::path::Path,
) -> (QueueArgs, StoreArgs, BlobArgs) {
    let unique = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let real = options.backend == Backend::Real;
    let queue = QueueArgs {
        queue_url: real.then(|| {
            env_or(
                "FACEFIX_TEST_AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            )
        }),
        queue_prefix: format!("facefix-test-{unique}"),
        queue_delivery_limit: options.delivery_limit,
        publish_timeout: Duration::from_secs(10),
    };
    let store = StoreArgs {
        store_url: real.then(|| env_or("FACEFIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")),
        store_prefix: format!("facefix-test-{unique}:"),
        store_pool_size: 8,
    };
    let blob = BlobArgs {
        blob_url: real.then(|| {
            format!(
                "s3://{}/test-{unique}",
                env_or("FACEFIX_TEST_S3_BUCKET", "facefix-test")
            )
        }),
        data_dir: data_dir.to_path_buf(),
        s3_endpoint: real.then(|| env_or("FACEFIX_TEST_S3_ENDPOINT", "http://127.0.0.1:9000")),
        s3_region: "us-east-1".to_string(),
        s3_path_style: true,
        s3_access_key_id: real.then(|| env_or("FACEFIX_TEST_S3_ACCESS_KEY", "facefix")),
        s3_secret_access_key: real
            .then(|| env_or("FACEFIX_TEST_S3_SECRET_KEY", "facefix-dev-secret")),
        s3_create_bucket: real,
    };
    (queue, store, blob)
}

/// A running stack.
pub struct Stack {
    pub base: String,
    pub services: Services,
    pub client: reqwest::Client,
    backend: Backend,
    queue_args: QueueArgs,
    store_prefix: String,
    server: Option<RunningServer>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Stack {
        let processor: Arc<dyn ImageProcessor> = Arc::new(PassThrough::new(options.limits.image));
        Self::start_with(options, processor, None).await
    }

    /// Starts a stack; `services` replaces the connected ports (to inject failures).
    pub async fn start_with(
        options: StackOptions,
        processor: Arc<dyn ImageProcessor>,
        services: Option<Services>,
    ) -> Stack {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (queue, store, blob) = port_args(&options, data_dir.path());
        let services = match services {
            Some(services) => services,
            None => Services::connect(&queue, &store, &blob)
                .await
                .expect("connect to the services"),
        };
        let retention = options.retention_args();
        let backlog = BacklogArgs {
            max_backlog: options.max_backlog,
            backlog_refresh: Duration::from_millis(100),
            backlog_retry_after: Duration::from_secs(7),
        };
        let stop = CancellationToken::new();
        let state = AppState {
            services: services.clone(),
            limits: options.limits.clone(),
            uploads: Arc::new(UploadFlow::new(options.uploads.clone())),
            origins: Arc::new(OriginPolicy::new(&options.cors)),
            retention: retention.clone(),
            backlog: Arc::new(BacklogMonitor::new(backlog)),
            models: Arc::new(Vec::new()),
            upsamplers: Arc::new(Vec::new()),
            webhooks: Arc::new(options.webhooks.clone()),
            keys: key_access(&options.keys, &store, stop.clone()).expect("API keys"),
        };
        let mut tasks = vec![tokio::spawn(
            state.backlog.clone().run(services.clone(), stop.clone()),
        )];
        if options.with_sweeper {
            tasks.push(tokio::spawn(
                Sweeper::new(services.store.clone(), services.blobs.clone(), retention)
                    .run(stop.clone()),
            ));
        }
        if options.with_worker {
            let args = WorkerArgs {
                concurrency: options.concurrency,
                drain_timeout: Duration::from_secs(5),
                worker_id: Some("test-worker".to_string()),
                retry_backoff: Duration::from_millis(50),
            };
            let worker =
                Worker::with_webhooks(services.clone(), processor, args, options.webhooks.clone());
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                worker.run(stop).await.expect("worker runs");
            }));
        }
        let server = facefix_api::start_api("127.0.0.1:0".parse().expect("addr"), state)
            .expect("start the API");
        Stack {
            base: format!("http://{}", server.addr),
            services,
            client: reqwest::Client::new(),
            backend: options.backend,
            queue_args: queue,
            store_prefix: store.store_prefix,
            server: Some(server),
            stop,
            tasks,
            _data_dir: data_dir,
        }
    }

    /// Loses every record, purge entry and queued-index entry, as a Redis restarted
    /// without persistence (or flushed) does, and returns the services on the emptied
    /// store. Embedded: a new, empty store (the stack keeps its own). Real: the stack's keys
    /// are deleted; never a FLUSHALL, the server is shared with other tests.
    pub async fn lose_store(&self) -> Services {
        match self.backend {
            Backend::Embedded => Services {
                store: Arc::new(facefix_shared::store::MemoryStore::new()),
                ..self.services.clone()
            },
            Backend::Real => {
                delete_redis_keys(&self.store_prefix).await;
                self.services.clone()
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Uploads raw bytes with options in the query string.
    pub async fn upload(&self, bytes: Vec<u8>, query: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/v1/jobs{query}")))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("POST /v1/jobs")
    }

    /// Uploads a test image as multipart and returns the job id (asserting 202).
    pub async fn upload_ok(&self, path: &str) -> String {
        let part = reqwest::multipart::Part::bytes(read_testdata(path)).file_name("photo.bin");
        let form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("upscale", "1");
        let response = self
            .client
            .post(self.url("/v1/jobs"))
            .multipart(form)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 202, "{path}: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    pub async fn job(&self, id: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(&format!("/v1/jobs/{id}")))
            .send()
            .await
            .expect("GET job");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls until the job reaches a final state (or the deadline).
    pub async fn wait_final(&self, id: &str, deadline: Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            let (status, body) = self.job(id).await;
            assert_eq!(status, 200, "job {id} vanished: {body}");
            let state = body["state"].as_str().unwrap_or("");
            if ["succeeded", "failed"].contains(&state) {
                return body;
            }
            assert!(
                start.elapsed() < deadline,
                "job {id} still {state} after {deadline:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if self.backend == Backend::Real {
            self.remove_from_the_services().await;
        }
    }

    async fn remove_from_the_services(&self) {
        remove_test_data(
            &self.queue_args,
            &self.store_prefix,
            self.services.blobs.as_ref(),
        )
        .await;
    }
}
