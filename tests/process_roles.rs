//! The roles as separate processes on the real services: a worker killed mid-job, a
//! graceful drain on SIGTERM, and one trace across the API and the worker.

mod common;

use common::processes::{
    RoleProcess, SlowJobInFlight, remove_service_data, service_env, slow_job_in_flight,
    start_api_and_worker, upload, wait_state,
};
use common::{read_testdata, real_services_enabled};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn a_job_whose_worker_is_killed_is_redelivered_and_completes() {
    if !real_services_enabled("worker kill -9") {
        return;
    }
    let SlowJobInFlight {
        env,
        client,
        mut api,
        worker: mut first,
        id,
    } = slow_job_in_flight(&["--concurrency", "1"]).await;
    first.child.kill().expect("kill -9 the worker");
    let _ = first.child.wait();
    let mut second = RoleProcess::spawn("worker", &env, &["--concurrency", "1"]);
    second.wait_healthy(&client).await;
    let done = wait_state(
        &client,
        &api.base,
        &id,
        &["succeeded", "failed"],
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["attempts"], 2,
        "the job ran once on each worker: {done}"
    );
    let _ = client
        .delete(format!("{}/v1/jobs/{id}", api.base))
        .send()
        .await;
    assert!(second.terminate(Duration::from_secs(60)).success());
    assert!(api.terminate(Duration::from_secs(30)).success());
    remove_service_data(&env).await;
}

#[tokio::test]
async fn sigterm_drains_the_in_flight_job_and_exits_zero() {
    if !real_services_enabled("worker drain") {
        return;
    }
    let SlowJobInFlight {
        env,
        client,
        mut api,
        mut worker,
        id,
    } = slow_job_in_flight(&["--concurrency", "1", "--drain-timeout", "200s"]).await;
    let status = worker.terminate(Duration::from_secs(240));
    assert!(
        status.success(),
        "the worker must exit 0 after draining: {status}"
    );
    let done = wait_state(
        &client,
        &api.base,
        &id,
        &["succeeded", "failed", "queued"],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        done["state"], "succeeded",
        "the in-flight job finished during the drain: {done}"
    );
    let _ = client
        .delete(format!("{}/v1/jobs/{id}", api.base))
        .send()
        .await;
    assert!(api.terminate(Duration::from_secs(30)).success());
    remove_service_data(&env).await;
}

/// A minimal OTLP/HTTP receiver: keeps every request body, answers 200.
fn start_otlp_receiver() -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let port = listener.local_addr().expect("addr").port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut data = Vec::new();
                let mut buffer = [0u8; 65536];
                loop {
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buffer[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while data.len() < end + 4 + length {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let body = data[end + 4..end + 4 + length].to_vec();
                    data.drain(..end + 4 + length);
                    if let Ok(mut bodies) = keep.lock() {
                        bodies.push(body);
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, bodies)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn one_upload_is_one_trace_across_the_api_and_the_worker() {
    if !real_services_enabled("trace") {
        return;
    }
    let (port, bodies) = start_otlp_receiver();
    let mut env = service_env(3);
    env.push((
        "FACEFIX_OTLP_ENDPOINT".into(),
        format!("http://127.0.0.1:{port}/v1/traces"),
    ));
    let client = reqwest::Client::new();
    let (mut api, mut worker) = start_api_and_worker(&env, &client, &[]).await;
    let trace_hex = format!("{:032x}", uuid::Uuid::new_v4().as_u128());
    let traceparent = format!("00-{trace_hex}-00f067aa0ba902b7-01");
    let id = upload(
        &client,
        &api.base,
        read_testdata("images/astronaut.png"),
        "?upscale=1",
        &[("traceparent", traceparent.as_str())],
    )
    .await
    .expect("accepted");
    let done = wait_state(
        &client,
        &api.base,
        &id,
        &["succeeded", "failed"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["state"], "succeeded");
    // Exporters flush on shutdown.
    assert!(worker.terminate(Duration::from_secs(60)).success());
    assert!(api.terminate(Duration::from_secs(30)).success());
    remove_service_data(&env).await;
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let bodies = bodies.lock().expect("bodies").clone();
    let from = |service: &[u8]| {
        bodies
            .iter()
            .any(|b| contains(b, &trace_id) && contains(b, service))
    };
    assert!(
        from(b"facefix-api"),
        "no API span in trace {trace_hex} ({} exports)",
        bodies.len()
    );
    assert!(
        from(b"facefix-worker"),
        "no worker span in trace {trace_hex} ({} exports)",
        bodies.len()
    );
}
