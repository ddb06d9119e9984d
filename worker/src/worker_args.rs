use clap::Args;
use facefix_shared::config::parse_duration;
use std::time::Duration;

/// How the worker consumes jobs.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Jobs processed at once; also the queue prefetch (the in-flight budget).
    #[arg(long, env = "FACEFIX_WORKER_CONCURRENCY", default_value_t = 2)]
    pub concurrency: u16,

    /// On SIGTERM, how long in-flight jobs may run before they are requeued. Keep it below
    /// the pod's termination grace period.
    #[arg(long, env = "FACEFIX_DRAIN_TIMEOUT", default_value = "25s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Name of this worker in job records and logs (default: host name and process id).
    #[arg(long, env = "FACEFIX_WORKER_ID")]
    pub worker_id: Option<String>,

    /// First delay before a job that failed transiently is requeued; doubles per attempt.
    #[arg(long, env = "FACEFIX_RETRY_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub retry_backoff: Duration,
}

impl WorkerArgs {
    pub fn resolved_worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "worker".to_string());
            format!("{host}-{}", std::process::id())
        })
    }

    /// The delay before requeueing after `previous_deliveries` earlier attempts (capped).
    pub fn backoff(&self, previous_deliveries: u32) -> Duration {
        let factor = 1u32 << previous_deliveries.min(5);
        (self.retry_backoff * factor).min(Duration::from_secs(30))
    }
}
