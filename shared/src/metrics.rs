//! Every Prometheus metric of facefix, in one place, with its buckets.
//!
//! Names carry the `facefix_` prefix and a unit suffix; labels take bounded values only
//! (routes as patterns, stages, outcomes, error codes), never job ids.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;

/// Request latencies: sub-millisecond status polls up to multi-second uploads.
const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Pipeline stages and whole jobs: milliseconds on a GPU to a minute on CPU.
const STAGE_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
const FACE_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0];
const BYTE_BUCKETS: &[f64] = &[16e3, 64e3, 256e3, 1e6, 4e6, 16e6, 64e6];

/// `queue` label of `facefix_queue_deliveries_held`: deliveries from the job queue.
pub const HELD_JOBS: &str = "jobs";
/// `queue` label of `facefix_queue_deliveries_held`: deliveries from the dead-letter queue.
pub const HELD_DEAD_LETTERS: &str = "dead";

/// The metrics of this process. Roles register only what they use; unused series stay empty.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub upload_bytes: HistogramVec,
    pub uploads_rejected_total: IntCounterVec,
    pub api_key_requests_total: IntCounterVec,
    pub jobs_created_total: IntCounterVec,
    pub jobs_finished_total: IntCounterVec,
    pub job_duration_seconds: HistogramVec,
    pub stage_duration_seconds: HistogramVec,
    pub faces_per_job: HistogramVec,
    pub batch_size: HistogramVec,
    pub jobs_in_flight: IntGauge,
    pub job_retries_total: IntCounterVec,
    pub queue_messages: IntGaugeVec,
    pub queue_deliveries_held: IntGaugeVec,
    pub queue_oldest_job_age_seconds: Gauge,
    pub purges_total: IntCounterVec,
    pub purge_errors_total: IntCounterVec,
    pub purge_lag_seconds: Gauge,
    pub reconciled_objects_total: IntCounterVec,
    pub reconcile_errors_total: IntCounterVec,
    pub reconcile_last_success_timestamp_seconds: Gauge,
    pub sweeper_last_success_timestamp_seconds: Gauge,
    pub sweeper_schedule_errors_total: IntCounter,
    pub webhook_deliveries_total: IntCounterVec,
    pub webhook_attempts_total: IntCounterVec,
    pub webhook_delivery_duration_seconds: HistogramVec,
}

/// Registers a freshly built metric; a failure is a programming error caught by the tests.
fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    name: &str,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        registry,
        name,
        IntCounterVec::new(Opts::new(name, help), labels),
    )
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    register(
        registry,
        name,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        ),
    )
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    register(registry, name, Gauge::new(name, help))
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        {
            // Process RSS, CPU and fds: the API's memory budget is watched through these.
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        let queue_messages = register(
            &registry,
            "facefix_queue_messages",
            IntGaugeVec::new(
                Opts::new(
                    "facefix_queue_messages",
                    "Messages in the job queues (ready = waiting for a worker, dead = dead-lettered).",
                ),
                &["queue"],
            ),
        );
        let queue_deliveries_held = register(
            &registry,
            "facefix_queue_deliveries_held",
            IntGaugeVec::new(
                Opts::new(
                    "facefix_queue_deliveries_held",
                    "Deliveries this process holds: handed out by the queue, not yet acked, requeued, \
                     dead-lettered or dropped (jobs = the job queue, dead = the dead-letter queue). \
                     The broker's ready count leaves them out; the autoscaling signal adds them.",
                ),
                &["queue"],
            ),
        );
        // Both series exist from the start: an idle worker reports 0, not nothing.
        for queue in [HELD_JOBS, HELD_DEAD_LETTERS] {
            queue_deliveries_held.with_label_values(&[queue]).set(0);
        }
        let jobs_in_flight = register(
            &registry,
            "facefix_jobs_in_flight",
            IntGauge::new(
                "facefix_jobs_in_flight",
                "Jobs this worker is processing now.",
            ),
        );
        Self {
            http_requests_total: counter(
                &registry,
                "facefix_http_requests_total",
                "HTTP requests by route pattern, method and status.",
                &["route", "method", "status"],
            ),
            http_request_duration_seconds: histogram(
                &registry,
                "facefix_http_request_duration_seconds",
                "HTTP request latency by route pattern and method.",
                &["route", "method"],
                REQUEST_BUCKETS,
            ),
            upload_bytes: histogram(
                &registry,
                "facefix_upload_bytes",
                "Size of accepted uploads.",
                &["format"],
                BYTE_BUCKETS,
            ),
            uploads_rejected_total: counter(
                &registry,
                "facefix_uploads_rejected_total",
                "Uploads refused, by error code.",
                &["code"],
            ),
            api_key_requests_total: counter(
                &registry,
                "facefix_api_key_requests_total",
                "`/v1` requests by API key name (`-`: none or an unknown one) and outcome: allowed, unauthorized, rate-limited, quota-exceeded.",
                &["key", "outcome"],
            ),
            jobs_created_total: counter(
                &registry,
                "facefix_jobs_created_total",
                "Jobs accepted (202) by input format.",
                &["format"],
            ),
            jobs_finished_total: counter(
                &registry,
                "facefix_jobs_finished_total",
                "Jobs finished by outcome (succeeded, failed) and error code (none when succeeded).",
                &["outcome", "code"],
            ),
            job_duration_seconds: histogram(
                &registry,
                "facefix_job_duration_seconds",
                "Upload to final state, by outcome.",
                &["outcome"],
                STAGE_BUCKETS,
            ),
            stage_duration_seconds: histogram(
                &registry,
                "facefix_stage_duration_seconds",
                "Duration of each worker stage.",
                &["stage"],
                STAGE_BUCKETS,
            ),
            faces_per_job: histogram(
                &registry,
                "facefix_faces_per_job",
                "Faces restored per successful job.",
                &[],
                FACE_BUCKETS,
            ),
            batch_size: histogram(
                &registry,
                "facefix_batch_size",
                "Faces per restorer run.",
                &["model"],
                BATCH_BUCKETS,
            ),
            jobs_in_flight,
            job_retries_total: counter(
                &registry,
                "facefix_job_retries_total",
                "Deliveries requeued after a transient failure, by reason.",
                &["reason"],
            ),
            queue_messages,
            queue_deliveries_held,
            queue_oldest_job_age_seconds: gauge(
                &registry,
                "facefix_queue_oldest_job_age_seconds",
                "Age of the oldest job still queued (0 when none).",
            ),
            purges_total: counter(
                &registry,
                "facefix_purges_total",
                "Jobs purged, by reason (expired, deleted).",
                &["reason"],
            ),
            purge_errors_total: counter(
                &registry,
                "facefix_purge_errors_total",
                "Failed purge attempts (retried), by step.",
                &["step"],
            ),
            purge_lag_seconds: gauge(
                &registry,
                "facefix_purge_lag_seconds",
                "How far past due the oldest purge entry is (0 when none is due).",
            ),
            reconciled_objects_total: counter(
                &registry,
                "facefix_reconciled_objects_total",
                "Objects past their expiry that the reconciliation pass deleted (the purge schedule missed them), by key layout (current, legacy).",
                &["layout"],
            ),
            reconcile_errors_total: counter(
                &registry,
                "facefix_reconcile_errors_total",
                "Failed listings and deletes of the reconciliation pass (retried next pass), by step.",
                &["step"],
            ),
            reconcile_last_success_timestamp_seconds: gauge(
                &registry,
                "facefix_reconcile_last_success_timestamp_seconds",
                "Unix time at which the last reconciliation pass without errors ended.",
            ),
            sweeper_last_success_timestamp_seconds: gauge(
                &registry,
                "facefix_sweeper_last_success_timestamp_seconds",
                "Unix time of the sweeper's last sweep that read the schedule and purged all it \
                 claimed (its start time until then; 0 in processes that run no sweeper).",
            ),
            sweeper_schedule_errors_total: register(
                &registry,
                "facefix_sweeper_schedule_errors_total",
                IntCounter::new(
                    "facefix_sweeper_schedule_errors_total",
                    "Sweeps that could not read the purge schedule (the store is unreachable).",
                ),
            ),
            webhook_deliveries_total: counter(
                &registry,
                "facefix_webhook_deliveries_total",
                "Webhook calls by event and outcome (delivered; failed = retries spent or refused \
                 by the receiver; refused = the address check or a missing secret stopped it; \
                 dropped = the worker's webhook queue was full).",
                &["event", "outcome"],
            ),
            webhook_attempts_total: counter(
                &registry,
                "facefix_webhook_attempts_total",
                "HTTP requests made for webhook calls, retries included, by event.",
                &["event"],
            ),
            webhook_delivery_duration_seconds: histogram(
                &registry,
                "facefix_webhook_delivery_duration_seconds",
                "From a webhook call being queued to its last try, by outcome.",
                &["outcome"],
                STAGE_BUCKETS,
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let families = self.registry.gather();
        if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Exports `counter`'s series for each of `labels` at zero, so dashboards, alerts and
/// `rate()` see a label value known in advance before its first increment rather than
/// nothing.
pub fn export_at_zero(counter: &IntCounterVec, labels: &[&str]) {
    for label in labels {
        counter.with_label_values(&[label]);
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_prefixed_and_rendered() {
        let m = metrics();
        m.jobs_created_total.with_label_values(&["png"]).inc();
        m.purge_lag_seconds.set(1.5);
        let text = m.render();
        assert!(text.contains("facefix_jobs_created_total{format=\"png\"}"));
        assert!(text.contains("facefix_purge_lag_seconds 1.5"));
        // Exported from the start, so that an idle process reports 0 rather than nothing.
        for series in [
            "facefix_queue_deliveries_held{queue=\"jobs\"}",
            "facefix_queue_deliveries_held{queue=\"dead\"}",
            "facefix_sweeper_schedule_errors_total",
            "facefix_sweeper_last_success_timestamp_seconds",
        ] {
            assert!(text.contains(series), "{series} is not exported");
        }
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let name = line.split_whitespace().nth(2).unwrap_or("");
            assert!(
                name.starts_with("facefix_") || name.starts_with("process_"),
                "unprefixed metric {name}"
            );
        }
    }
}
