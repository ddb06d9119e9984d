//! A RabbitMQ restart under load: uploads go on while the broker is stopped and started
//! again; every upload that was accepted (202) still completes.

mod common;

use common::processes::{
    remove_service_data, service_env, start_api_and_worker, upload, wait_state,
};
use common::{read_testdata, real_services_enabled};
use std::process::Command;
use std::time::{Duration, Instant};

fn rabbitmqctl(args: &[&str]) -> bool {
    let node =
        std::env::var("FACEFIX_TEST_RABBITMQ_NODE").unwrap_or_else(|_| "facefix@localhost".into());
    Command::new("rabbitmqctl")
        .args(["-q", "-n", &node])
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts the broker again if the test stops half-way.
struct BrokerGuard;

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

#[tokio::test]
async fn no_accepted_job_is_lost_when_the_broker_restarts() {
    if !real_services_enabled("broker restart under load") {
        return;
    }
    let env = service_env(5);
    let client = reqwest::Client::new();
    let (mut api, mut worker) = start_api_and_worker(&env, &client, &["--concurrency", "4"]).await;
    let image = read_testdata("images/tiny_face_64x75.png");
    let base = api.base.clone();
    let loader_client = client.clone();
    let load = tokio::spawn(async move {
        let (mut accepted, mut refused) = (Vec::new(), 0usize);
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            match upload(&loader_client, &base, image.clone(), "?upscale=1", &[]).await {
                Some(id) => accepted.push(id),
                None => refused += 1,
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        (accepted, refused)
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let guard = BrokerGuard;
    assert!(rabbitmqctl(&["stop_app"]), "rabbitmqctl stop_app");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        rabbitmqctl(&["start_app"]) && rabbitmqctl(&["await_startup"]),
        "rabbitmqctl start_app"
    );
    drop(guard);
    let (accepted, refused) = load.await.expect("load task");
    eprintln!(
        "accepted {} uploads, {refused} refused during the outage",
        accepted.len()
    );
    assert!(
        accepted.len() > 20,
        "too few uploads accepted: {}",
        accepted.len()
    );
    for id in &accepted {
        let done = wait_state(
            &client,
            &api.base,
            id,
            &["succeeded", "failed"],
            Duration::from_secs(180),
        )
        .await;
        assert_eq!(
            done["state"], "succeeded",
            "accepted job {id} was lost or failed: {done}"
        );
        let _ = client
            .delete(format!("{}/v1/jobs/{id}", api.base))
            .send()
            .await;
    }
    assert!(worker.terminate(Duration::from_secs(60)).success());
    assert!(api.terminate(Duration::from_secs(30)).success());
    remove_service_data(&env).await;
}
