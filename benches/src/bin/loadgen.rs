//! Load generator for a running facefix stack (127.0.0.1 only by default; bounded in time).
//!
//! In one run it measures, at the same concurrency:
//! 1. the baseline: raw S3 PUTs of the same image to the same object store,
//! 2. `POST /v1/jobs` of that image (accepted uploads per second),
//! 3. `GET /v1/jobs/{id}` status polls (requests per second, p50/p99),
//! 4. end-to-end job latency (upload until `succeeded`).
//!
//! It prints the upload rate as a ratio of the baseline, plus the API's resident memory
//! (from its `/metrics`, on the API's private metrics port).

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use clap::builder::BoolishValueParser;
use facefix_shared::blob::S3BlobStore;
use facefix_shared::config::BlobArgs;
use facefix_shared::job::JobId;
use facefix_shared::ports::{BlobKey, BlobStore, JobObjects};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    about = "Load generator for facefix: uploads, status polls, end-to-end latency, against an S3 PUT baseline"
)]
struct Args {
    /// Base URL of the API under test.
    #[arg(long, env = "LOADGEN_API", default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Base URL of the API's metrics listener (its `--metrics-listen`), for its memory.
    #[arg(long, env = "LOADGEN_METRICS", default_value = "http://127.0.0.1:9464")]
    metrics: String,
    /// Image to upload (about 400 KB is the reference point; the default is relative to the
    /// repository root, where benches/load.sh runs).
    #[arg(
        long,
        env = "LOADGEN_IMAGE",
        default_value = "testdata/images/astronaut.png"
    )]
    image: std::path::PathBuf,
    /// Requests in flight at once.
    #[arg(long, env = "LOADGEN_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Length of each phase.
    #[arg(long, env = "LOADGEN_DURATION", default_value = "10s", value_parser = facefix_shared::config::parse_duration)]
    duration: Duration,
    /// Jobs timed end to end (sequentially, after the throughput phases).
    #[arg(long, env = "LOADGEN_E2E_JOBS", default_value_t = 20)]
    e2e_jobs: usize,
    /// Skip the S3 baseline (e.g. an embedded stack).
    #[arg(long, env = "LOADGEN_NO_BASELINE", value_parser = BoolishValueParser::new())]
    no_baseline: bool,
    /// Only the end-to-end phase (benches/load.sh measures the API's phases with no
    /// worker on the machine, then starts one and runs this).
    #[arg(long, env = "LOADGEN_E2E_ONLY", value_parser = BoolishValueParser::new())]
    e2e_only: bool,
    /// Allow a non-loopback API (load tests target 127.0.0.1 by default).
    #[arg(long, env = "LOADGEN_ALLOW_REMOTE", value_parser = BoolishValueParser::new())]
    allow_remote: bool,
    #[command(flatten)]
    blob: BlobArgs,
}

/// Latencies of one phase.
struct Phase {
    name: &'static str,
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }

    fn print(&self) {
        println!(
            "{:<22} {:>9.1}/s  ok {:>7}  errors {:>5}  p50 {:>8.2} ms  p99 {:>8.2} ms",
            self.name,
            self.rate(),
            self.ok,
            self.errors,
            self.percentile(0.5).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0
        );
    }
}

/// Runs `op` from `concurrency` tasks for `duration`; `op(i)` returns whether it succeeded.
async fn run_phase<F, Fut>(
    name: &'static str,
    concurrency: usize,
    duration: Duration,
    op: F,
) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
            let mut i = worker;
            while Instant::now() < deadline {
                let t = Instant::now();
                if op(i).await {
                    ok += 1;
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
                i += concurrency;
            }
            (ok, errors, latencies)
        }));
    }
    let mut phase = Phase {
        name,
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        if let Ok((ok, errors, latencies)) = task.await {
            phase.ok += ok;
            phase.errors += errors;
            phase.latencies.extend(latencies);
        }
    }
    phase.elapsed = start.elapsed();
    phase
}

async fn upload(client: &reqwest::Client, api: &str, image: &Bytes) -> Option<String> {
    let response = client
        .post(format!("{api}/v1/jobs?upscale=1"))
        .header("content-type", "application/octet-stream")
        .body(image.clone())
        .send()
        .await
        .ok()?;
    if response.status() != 202 {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_string)
}

async fn api_rss_mb(client: &reqwest::Client, metrics: &str) -> Option<f64> {
    let text = client
        .get(format!("{}/metrics", metrics.trim_end_matches('/')))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("process_resident_memory_bytes "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|bytes| bytes / 1048576.0)
}

/// Uploads `jobs` images one after another, each polled until it succeeds (120 s at most).
async fn end_to_end(
    client: &reqwest::Client,
    api: &str,
    image: &Bytes,
    jobs: usize,
) -> anyhow::Result<()> {
    let mut e2e = Phase {
        name: "end-to-end job",
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    let start = Instant::now();
    for _ in 0..jobs {
        let t = Instant::now();
        let Some(id) = upload(client, api, image).await else {
            e2e.errors += 1;
            continue;
        };
        let finished = loop {
            let body: serde_json::Value = client
                .get(format!("{api}/v1/jobs/{id}"))
                .send()
                .await?
                .json()
                .await?;
            match body["state"].as_str() {
                Some("succeeded") => break true,
                Some("failed") | None => break false,
                _ if t.elapsed() > Duration::from_secs(120) => break false,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        };
        if finished {
            e2e.ok += 1;
            e2e.latencies.push(t.elapsed());
        } else {
            e2e.errors += 1;
        }
        let _ = client.delete(format!("{api}/v1/jobs/{id}")).send().await;
    }
    e2e.elapsed = start.elapsed();
    e2e.print();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = reqwest::Url::parse(&args.api).context("--api")?;
    let loopback = matches!(host.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !loopback && !args.allow_remote {
        bail!(
            "refusing to load {} (not loopback); pass --allow-remote if you mean it",
            args.api
        );
    }
    let image =
        Bytes::from(std::fs::read(&args.image).with_context(|| args.image.display().to_string())?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let api = args.api.trim_end_matches('/').to_string();
    println!(
        "loadgen: {} ({} KB), concurrency {}, {:?} per phase, against {api}",
        args.image.display(),
        image.len() / 1024,
        args.concurrency,
        args.duration
    );

    if args.e2e_only {
        return end_to_end(&client, &api, &image, args.e2e_jobs).await;
    }

    let baseline = if args.no_baseline {
        None
    } else {
        let store = Arc::new(
            S3BlobStore::connect(&args.blob)
                .await
                .context("S3 baseline: connect")?,
        );
        let body = image.clone();
        let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = keys.clone();
        let phase = run_phase(
            "s3 PUT (baseline)",
            args.concurrency,
            args.duration,
            move |_| {
                let (store, body, record) = (store.clone(), body.clone(), record.clone());
                async move {
                    let expires_at = std::time::SystemTime::now() + Duration::from_secs(900);
                    let key = JobObjects::new(JobId::new_random(), expires_at.into()).input();
                    let ok = store.put(&key, body, "image/png").await.is_ok();
                    if let Ok(mut keys) = record.lock() {
                        keys.push(key);
                    }
                    ok
                }
            },
        )
        .await;
        phase.print();
        let store = S3BlobStore::connect(&args.blob).await?;
        let created: Vec<BlobKey> = keys.lock().map(|k| k.clone()).unwrap_or_default();
        for key in created {
            let _ = store.delete(&key).await;
        }
        Some(phase)
    };

    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, a, img, record) = (client.clone(), api.clone(), image.clone(), ids.clone());
    let uploads = run_phase(
        "POST /v1/jobs",
        args.concurrency,
        args.duration,
        move |_| {
            let (c, a, img, record) = (c.clone(), a.clone(), img.clone(), record.clone());
            async move {
                match upload(&c, &a, &img).await {
                    Some(id) => {
                        if let Ok(mut ids) = record.lock() {
                            ids.push(id);
                        }
                        true
                    }
                    None => false,
                }
            }
        },
    )
    .await;
    uploads.print();
    let ids: Arc<Vec<String>> = Arc::new(ids.lock().map(|v| v.clone()).unwrap_or_default());
    if ids.is_empty() {
        bail!("no upload was accepted");
    }

    let (c, a, poll_ids) = (client.clone(), api.clone(), ids.clone());
    let polls = run_phase("GET /v1/jobs/{id}", args.concurrency, args.duration, move |i| {
        let (c, a, poll_ids) = (c.clone(), a.clone(), poll_ids.clone());
        async move {
            let id = &poll_ids[i % poll_ids.len()];
            matches!(c.get(format!("{a}/v1/jobs/{id}")).send().await, Ok(r) if r.status() == 200)
        }
    })
    .await;
    polls.print();
    let rss = api_rss_mb(&client, &args.metrics).await;

    end_to_end(&client, &api, &image, args.e2e_jobs).await?;

    // Leave nothing behind.
    for id in ids.iter() {
        let _ = client.delete(format!("{api}/v1/jobs/{id}")).send().await;
    }
    if let Some(baseline) = &baseline {
        println!(
            "upload rate = {:.0} % of the raw S3 PUT rate ({:.1}/s vs {:.1}/s)",
            100.0 * uploads.rate() / baseline.rate(),
            uploads.rate(),
            baseline.rate()
        );
    }
    if let Some(rss) = rss {
        println!("API resident memory after the poll phase: {rss:.1} MB");
    }
    Ok(())
}
