//! Command-line and environment configuration shared by every role.
//!
//! Every flag is also an environment variable (`FACEFIX_…`); doc comments are the
//! `--help` text. Groups are flattened into the subcommands that need them.

use crate::redact::redact_url;
use clap::builder::BoolishValueParser;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Parses durations such as `15m`, `5s`, `1h 30m`, `250ms`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|e| format!("{e} (examples: 15m, 5s, 250ms)"))
}

/// Parses byte sizes such as `20MiB`, `512KiB`, `1000000`.
pub fn parse_bytes(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("not a size: {value:?} (examples: 20MiB, 500KB, 1048576)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size too large: {value:?}"))
}

/// Where the HTTP server (API, or a worker's health and metrics) listens.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address to listen on. Port 0 picks a free port (it is logged).
    #[arg(long, env = "FACEFIX_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// The job queue. Unset URL = embedded (in-process) queue.
#[derive(Clone, Args)]
pub struct QueueArgs {
    /// RabbitMQ URL, e.g. `amqp://user:pass@rabbitmq:5672/%2f`. Unset: in-process queue
    /// (embedded mode, `serve` only).
    #[arg(long, env = "FACEFIX_QUEUE_URL", hide_env_values = true)]
    pub queue_url: Option<String>,

    /// Name prefix of the exchange (`PREFIX`), the queue (`PREFIX.jobs`) and the dead-letter
    /// queue (`PREFIX.jobs.dead`).
    #[arg(long, env = "FACEFIX_QUEUE_PREFIX", default_value = "facefix")]
    pub queue_prefix: String,

    /// Redeliveries after which a job is dead-lettered and marked failed (`gave-up`).
    #[arg(long, env = "FACEFIX_QUEUE_DELIVERY_LIMIT", default_value_t = 3)]
    pub queue_delivery_limit: u32,

    /// How long a publish may wait for the broker's confirm before the upload fails (503).
    #[arg(long, env = "FACEFIX_PUBLISH_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub publish_timeout: Duration,
}

/// The job store. Unset URL = embedded (in-memory) store.
#[derive(Clone, Args)]
pub struct StoreArgs {
    /// Redis URL, e.g. `redis://redis:6379/0`. Unset: in-memory store (embedded mode).
    #[arg(long, env = "FACEFIX_STORE_URL", hide_env_values = true)]
    pub store_url: Option<String>,

    /// Prefix of every Redis key facefix writes.
    #[arg(long, env = "FACEFIX_STORE_PREFIX", default_value = "facefix:")]
    pub store_prefix: String,

    /// Size of the Redis connection pool.
    #[arg(long, env = "FACEFIX_STORE_POOL_SIZE", default_value_t = 16)]
    pub store_pool_size: usize,
}

/// The object store. Unset URL = embedded (local directory) store.
#[derive(Clone, Args)]
pub struct BlobArgs {
    /// S3 location, `s3://bucket` or `s3://bucket/prefix`. Unset: files under `--data-dir`
    /// (embedded mode).
    #[arg(long, env = "FACEFIX_BLOB_URL")]
    pub blob_url: Option<String>,

    /// Directory for blobs in embedded mode.
    #[arg(long, env = "FACEFIX_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,

    /// S3 endpoint for non-AWS servers (MinIO, Garage, Ceph), e.g. `http://127.0.0.1:9000`.
    /// Unset: AWS (or `AWS_ENDPOINT_URL`).
    #[arg(long, env = "FACEFIX_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// S3 region (signing region; any value for MinIO).
    #[arg(long, env = "FACEFIX_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Path-style addressing (`host/bucket/key`), needed by most self-hosted servers.
    #[arg(long, env = "FACEFIX_S3_PATH_STYLE", value_parser = BoolishValueParser::new())]
    pub s3_path_style: bool,

    /// Static access key id. Unset: the AWS default credential chain (env, profile, IRSA,
    /// instance role).
    #[arg(long, env = "FACEFIX_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Static secret key (with `--s3-access-key-id`).
    #[arg(long, env = "FACEFIX_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Create the bucket at start when it does not exist (development and compose stacks;
    /// production buckets are provisioned with their lifecycle rule beforehand).
    #[arg(long, env = "FACEFIX_S3_CREATE_BUCKET", value_parser = BoolishValueParser::new())]
    pub s3_create_bucket: bool,
}

// The URLs may carry a password (`amqp://user:pass@…`, `redis://:pass@…`): the Debug
// forms below redact it, so the effective configuration can be logged.
impl std::fmt::Debug for QueueArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueArgs")
            .field("queue_url", &self.queue_url.as_deref().map(redact_url))
            .field("queue_prefix", &self.queue_prefix)
            .field("queue_delivery_limit", &self.queue_delivery_limit)
            .field("publish_timeout", &self.publish_timeout)
            .finish()
    }
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("store_url", &self.store_url.as_deref().map(redact_url))
            .field("store_prefix", &self.store_prefix)
            .field("store_pool_size", &self.store_pool_size)
            .finish()
    }
}

impl std::fmt::Debug for BlobArgs {
    /// Redacts the secret so the effective configuration can be logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobArgs")
            .field("blob_url", &self.blob_url)
            .field("data_dir", &self.data_dir)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_path_style", &self.s3_path_style)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("s3_create_bucket", &self.s3_create_bucket)
            .finish()
    }
}

fn default_data_dir() -> PathBuf {
    std::env::temp_dir().join("facefix-data")
}

/// Retention: how long uploads and results live, and how the sweeper runs.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// How long after upload a job's input, result and record are destroyed.
    #[arg(long, env = "FACEFIX_RETENTION", default_value = "15m", value_parser = parse_duration)]
    pub retention: Duration,

    /// How often the sweeper looks for due jobs.
    #[arg(long, env = "FACEFIX_SWEEP_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// How long a sweeper holds a claimed job before another sweeper may take it over.
    #[arg(long, env = "FACEFIX_PURGE_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub purge_lease: Duration,

    /// How often the sweeper lists the object store and deletes every object past its
    /// expiry, whatever the job store says (objects outlive a lost Redis by at most this
    /// much plus one pass).
    #[arg(long, env = "FACEFIX_RECONCILE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub reconcile_interval: Duration,
}

impl RetentionArgs {
    /// TTL of a job record: a little longer than the retention, so the record never outlives
    /// its data by much even when every sweeper is down, and never disappears before the
    /// sweeper has had its chance to purge the objects.
    pub fn record_ttl(&self) -> Duration {
        self.retention + record_grace(self.retention)
    }
}

/// How long a job record outlives its job's expiry (see [`RetentionArgs::record_ttl`]).
pub fn record_grace(retention: Duration) -> Duration {
    Duration::from_secs(300).max(retention / 10)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs, traces.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(
        long,
        env = "FACEFIX_LOG",
        default_value = "info,ort=warn,lapin=warn,aws=warn"
    )]
    pub log: String,

    /// Log format.
    #[arg(long, env = "FACEFIX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// OTLP/HTTP traces endpoint, e.g. `http://otel-collector:4318/v1/traces`. Unset: no
    /// export (spans still go to the logs). `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is honoured.
    #[arg(long, env = "FACEFIX_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Service name reported in traces; defaults to `facefix-<role>`.
    #[arg(long, env = "FACEFIX_SERVICE_NAME")]
    pub service_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_bytes("20MiB"), Ok(20 << 20));
        assert_eq!(parse_bytes("500KB"), Ok(500_000));
        assert_eq!(parse_bytes("1234"), Ok(1234));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("99999999999999999999GiB").is_err());
    }

    #[test]
    fn record_ttl_outlives_retention() {
        let args = RetentionArgs {
            retention: Duration::from_secs(2),
            sweep_interval: Duration::from_secs(1),
            purge_lease: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(30),
        };
        assert!(args.record_ttl() > args.retention);
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let queue = QueueArgs {
            queue_url: Some("amqp://facefix:hunter2@rabbitmq:5672/%2f".into()),
            queue_prefix: "facefix".into(),
            queue_delivery_limit: 3,
            publish_timeout: Duration::from_secs(10),
        };
        let store = StoreArgs {
            store_url: Some("redis://:hunter2@redis:6379/0".into()),
            store_prefix: "facefix:".into(),
            store_pool_size: 16,
        };
        for printed in [format!("{queue:?}"), format!("{store:?}")] {
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(printed.contains("***"), "{printed}");
        }
        assert!(format!("{queue:?}").contains("rabbitmq:5672"));
    }
}
