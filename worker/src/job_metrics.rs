//! Metrics of jobs that reached a final state, from the handler and the dead-letter
//! consumer alike.

use chrono::Utc;
use facefix_shared::job::JobRecord;
use facefix_shared::metrics::metrics;

/// Counts `job` (now final) by outcome and error code, and observes its durations.
pub(crate) fn record_finished(job: &JobRecord) {
    let m = metrics();
    let outcome = job.state.as_str();
    let code = job
        .error
        .as_ref()
        .map(|e| e.code.as_str())
        .unwrap_or("none");
    m.jobs_finished_total
        .with_label_values(&[outcome, code])
        .inc();
    let seconds = (Utc::now() - job.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    m.job_duration_seconds
        .with_label_values(&[outcome])
        .observe(seconds);
    for (stage, ms) in job.timings_ms.entries() {
        m.stage_duration_seconds
            .with_label_values(&[stage])
            .observe(ms / 1000.0);
    }
    if let Some(faces) = job.faces_restored {
        m.faces_per_job
            .with_label_values(&[] as &[&str])
            .observe(f64::from(faces));
    }
}
