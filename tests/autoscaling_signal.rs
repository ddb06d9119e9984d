//! The autoscaling signal on the real services: ready messages (the API's gauge, from the
//! broker) plus the deliveries the workers hold (each worker's gauge). The ready count
//! alone drops to 0 as soon as a worker has prefetched the last job, while the worker is
//! still busy for seconds; an autoscaler reading it would remove that worker. The sum must
//! stay above zero until the work is done.

mod common;

use common::processes::{
    SLOW_IMAGE, SLOW_QUERY, remove_service_data, service_env, start_api_and_worker, upload,
    wait_state,
};
use common::{read_testdata, real_services_enabled};
use std::time::{Duration, Instant};

/// Jobs one worker takes at once (its prefetch).
const CONCURRENCY: u64 = 2;
/// One more job than the worker takes: it waits as `ready`, then goes to the worker too.
const JOBS: usize = 3;
const READY: &str = "facefix_queue_messages{queue=\"ready\"}";
const HELD: &str = "facefix_queue_deliveries_held{queue=\"jobs\"}";

/// The value of the series `series` (name and labels as exposed) on `base`/metrics.
async fn gauge(client: &reqwest::Client, base: &str, series: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {base}/metrics: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading {base}/metrics: {e}"));
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{base}/metrics has no {series}"));
    value
        .trim()
        .parse::<f64>()
        .map(|v| v as u64)
        .unwrap_or_else(|e| panic!("{series} = {value:?}: {e}"))
}

/// Whether every job is in a final state.
async fn all_final(client: &reqwest::Client, api: &str, ids: &[String]) -> bool {
    for id in ids {
        let body: serde_json::Value = match client.get(format!("{api}/v1/jobs/{id}")).send().await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => return false,
        };
        if !matches!(body["state"].as_str(), Some("succeeded" | "failed")) {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn ready_plus_held_stays_above_zero_while_a_worker_holds_prefetched_jobs() {
    if !real_services_enabled("autoscaling signal") {
        return;
    }
    let env = service_env(3);
    let client = reqwest::Client::new();
    let concurrency = CONCURRENCY.to_string();
    let (mut api, mut worker) =
        start_api_and_worker(&env, &client, &["--concurrency", &concurrency]).await;
    assert_eq!(
        gauge(&client, &worker.metrics_base, HELD).await,
        0,
        "idle worker"
    );

    let image = read_testdata(SLOW_IMAGE);
    let mut ids = Vec::new();
    for _ in 0..JOBS {
        let id = upload(&client, &api.base, image.clone(), SLOW_QUERY, &[])
            .await
            .expect("accepted");
        ids.push(id);
    }
    // From here the API's ready gauge (refreshed every 500 ms) may lag, but only ever
    // above the truth: nothing is published any more and nothing is requeued.
    let deadline = Instant::now() + Duration::from_secs(60);
    while gauge(&client, &worker.metrics_base, HELD).await < CONCURRENCY {
        assert!(
            Instant::now() < deadline,
            "the worker never held {CONCURRENCY} deliveries"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut samples = Vec::new();
    loop {
        let ready = gauge(&client, &api.metrics_base, READY).await;
        let held = gauge(&client, &worker.metrics_base, HELD).await;
        // Read after the sample: a job unfinished now was unfinished when it was taken.
        if all_final(&client, &api.base, &ids).await {
            break;
        }
        samples.push((ready, held));
        assert!(
            ready + held >= 1,
            "jobs unfinished, yet ready {ready} + held {held} = 0 (samples so far: {samples:?})"
        );
        assert!(
            held <= CONCURRENCY,
            "the worker holds {held}, more than its prefetch {CONCURRENCY}"
        );
        assert!(Instant::now() < deadline, "jobs not done within 300 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        samples.iter().any(|&(ready, held)| ready == 0 && held >= 1),
        "no sample saw ready at 0 while the worker was busy, the case the sum is for: {samples:?}"
    );
    for id in &ids {
        let done = wait_state(
            &client,
            &api.base,
            id,
            &["succeeded", "failed"],
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(done["state"], "succeeded", "{done}");
    }
    // Every delivery was acked: the worker holds none again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge(&client, &worker.metrics_base, HELD).await != 0 {
        assert!(
            Instant::now() < deadline,
            "the worker still holds deliveries"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for id in &ids {
        let _ = client
            .delete(format!("{}/v1/jobs/{id}", api.base))
            .send()
            .await;
    }
    assert!(worker.terminate(Duration::from_secs(60)).success());
    assert!(api.terminate(Duration::from_secs(30)).success());
    remove_service_data(&env).await;
}
