//! Every `facefix_*` metric that a dashboard panel or an alert rule reads is exported by
//! facefix after one job. A panel on a series nobody writes stays empty, and an alert on it
//! never fires, without any error: only a check like this one notices.
//!
//! One `facefix serve` process (embedded adapters, so the API, a worker with the face models
//! and the sweeper share one registry) restores one photo, refuses one upload and deletes
//! the job; then its `/metrics` must contain a sample of every name the dashboards and the
//! alert and recording rules mention.

mod common;

use common::processes::{RoleProcess, upload, wait_state};
use common::read_testdata;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// The files whose queries must find their series.
const QUERY_FILES: &[&str] = &[
    "helm/facefix/dashboards/facefix.json",
    "deploy/prometheus/alerts.yml",
    "helm/facefix/templates/monitoring/prometheusrule.yaml",
];

/// Every `facefix_…` metric name in `text` (recording rules are named `facefix:…`, so
/// they do not match; histogram queries name the `_bucket` series, which is exported too).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("facefix_") {
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_word {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// Whether the exposition text has a sample line of `name`.
fn exported(exposition: &str, name: &str) -> bool {
    exposition.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

#[test]
fn names_are_found_in_queries() {
    let names = metric_names(
        r#"sum(rate(facefix_jobs_finished_total{outcome="failed"}[5m])) / max(facefix_queue_messages)
           histogram_quantile(0.9, facefix_batch_size_bucket) facefix:queue_work:messages"#,
    );
    let expected: BTreeSet<String> = [
        "facefix_batch_size_bucket",
        "facefix_jobs_finished_total",
        "facefix_queue_messages",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    let exposition = "# TYPE facefix_a counter\nfacefix_a{x=\"1\"} 0\nfacefix_ab 3\n";
    assert!(exported(exposition, "facefix_a"));
    assert!(exported(exposition, "facefix_ab"));
    assert!(!exported(exposition, "facefix_b"));
}

#[tokio::test]
async fn every_metric_the_dashboards_and_alerts_read_is_exported_after_one_job() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut wanted = BTreeSet::new();
    for file in QUERY_FILES {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"));
        wanted.extend(metric_names(&text));
    }
    assert!(
        wanted.len() >= 10,
        "only {} metric names found in {QUERY_FILES:?}",
        wanted.len()
    );
    let manifest = root.join("models/manifest.toml");
    assert!(
        root.join("models/mtcnn").is_dir(),
        "the face models are missing: run scripts/setup-models.sh ({} exists: {})",
        manifest.display(),
        manifest.is_file()
    );

    let data_dir = tempfile::tempdir().expect("temp dir");
    let env = vec![
        (
            "FACEFIX_DATA_DIR".to_string(),
            data_dir.path().display().to_string(),
        ),
        (
            "FACEFIX_MODELS_DIR".to_string(),
            root.join("models").display().to_string(),
        ),
        ("FACEFIX_LOG".to_string(), "warn".to_string()),
        // The fast built restorer: the learned default would spend a minute of CPU on
        // the astronaut's face, and the metrics are the same.
        (
            "FACEFIX_RESTORER".to_string(),
            "facefix-usm-512".to_string(),
        ),
    ];
    let mut serve = RoleProcess::spawn("serve", &env, &[]);
    let client = reqwest::Client::new();
    serve.wait_healthy(&client).await;

    let id = upload(
        &client,
        &serve.base,
        read_testdata("images/astronaut.png"),
        "",
        &[],
    )
    .await
    .expect("the photo is accepted");
    let done = wait_state(
        &client,
        &serve.base,
        &id,
        &["succeeded", "failed"],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let refused = upload(&client, &serve.base, b"not an image".to_vec(), "", &[]).await;
    assert_eq!(refused, None, "text is refused");
    let deleted = client
        .delete(format!("{}/v1/jobs/{id}", serve.base))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);

    let exposition = client
        .get(format!("{}/metrics", serve.metrics_base))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| !exported(&exposition, name))
        .collect();
    assert!(
        missing.is_empty(),
        "named in {QUERY_FILES:?} but not exported after one job: {missing:?}"
    );
    assert!(serve.terminate(Duration::from_secs(60)).success());
}
