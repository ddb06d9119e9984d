//! Webhooks end to end on the embedded adapters (and the first case again on the real
//! services, where the worker runs behind RabbitMQ and Redis): a receiver on 127.0.0.1 (allow-listed,
//! plain http allowed) gets a job's events in order, signed with the deployment's secret,
//! with the job's status JSON as the body; a receiver that answers 500 gets the call
//! again; an address not on the allow-list is refused while the job still succeeds; and a
//! deployment that allows https only refuses an http URL at submit.

mod common;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::{Backend, Stack, StackOptions, read_testdata, real_services_enabled};
use facefix_shared::webhook::{HostRule, WebhookArgs, WebhookSecret, sign};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "test-webhook-secret-0123456789";

/// One call as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    stage: String,
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// A webhook receiver that answers 500 to its first `failures` calls, then 200.
struct Receiver {
    port: u16,
    calls: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

fn header(request: &HttpRequest, name: &str) -> String {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl Receiver {
    fn start(failures: usize) -> Self {
        let calls: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = calls.clone();
        let server = HttpServer::new(move || {
            let seen = seen.clone();
            App::new().route(
                "/hook",
                web::post().to(move |request: HttpRequest, body: web::Bytes| {
                    let seen = seen.clone();
                    async move {
                        let mut calls = seen.lock().expect("calls");
                        calls.push(Received {
                            event: header(&request, "Facefix-Webhook-Event"),
                            stage: header(&request, "Facefix-Webhook-Stage"),
                            id: header(&request, "Facefix-Webhook-Id"),
                            timestamp: header(&request, "Facefix-Webhook-Timestamp"),
                            signature: header(&request, "Facefix-Webhook-Signature"),
                            body: body.to_vec(),
                        });
                        if calls.len() <= failures {
                            HttpResponse::InternalServerError().finish()
                        } else {
                            HttpResponse::Ok().finish()
                        }
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind the receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            port,
            calls,
            handle,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn calls(&self) -> Vec<Received> {
        self.calls.lock().expect("calls").clone()
    }

    /// Waits until `count` calls arrived.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {:?}, not {count} calls", self.calls());
    }
}

fn policy(allow_hosts: &[&str]) -> WebhookArgs {
    WebhookArgs {
        webhook_secret: Some(WebhookSecret::new(SECRET)),
        webhook_allow_http: true,
        webhook_allow_hosts: allow_hosts
            .iter()
            .map(|host| HostRule::parse(host).expect("rule"))
            .collect(),
        webhook_retry_backoff: Duration::from_millis(50),
        webhook_retry_for: Duration::from_secs(20),
        ..WebhookArgs::default()
    }
}

async fn stack(webhooks: WebhookArgs) -> Stack {
    stack_on(Backend::Embedded, webhooks).await
}

async fn stack_on(backend: Backend, webhooks: WebhookArgs) -> Stack {
    Stack::start(StackOptions {
        webhooks,
        ..StackOptions::new(backend)
    })
    .await
}

/// Uploads the test photo with `query` and returns the job id (asserting 202).
async fn upload(stack: &Stack, query: &str) -> String {
    let response = stack
        .upload(read_testdata("images/astronaut.png"), query)
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().expect("id").to_string()
}

/// Uploads the photo with `query` and waits for the job to succeed: a webhook never
/// holds up or fails its job. Returns the id and the final status.
async fn run_job(stack: &Stack, query: &str) -> (String, Value) {
    let id = upload(stack, query).await;
    let done = stack.wait_final(&id, Duration::from_secs(30)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    (id, done)
}

fn query(url: &str, events: &str) -> String {
    let encoded: String = serde_urlencoded::to_string([("webhook", url)]).expect("encode");
    format!("?upscale=1&{encoded}&webhook_events={events}")
}

fn verify(call: &Received) {
    let timestamp: i64 = call.timestamp.parse().expect("a unix timestamp");
    assert!(
        (chrono::Utc::now().timestamp() - timestamp).abs() < 60,
        "a current timestamp"
    );
    assert_eq!(
        call.signature,
        sign(SECRET.as_bytes(), timestamp, &call.body),
        "the signature verifies with the secret"
    );
    assert!(!call.id.is_empty(), "an id header");
}

#[tokio::test]
async fn events_arrive_in_order_signed_with_the_jobs_status() {
    events_in_order(Backend::Embedded).await;
}

#[tokio::test]
async fn on_the_real_services_events_arrive_in_order_signed_with_the_jobs_status() {
    if real_services_enabled(
        "on_the_real_services_events_arrive_in_order_signed_with_the_jobs_status",
    ) {
        events_in_order(Backend::Real).await;
    }
}

async fn events_in_order(backend: Backend) {
    let receiver = Receiver::start(0);
    let stack = stack_on(backend, policy(&["127.0.0.1"])).await;
    let (id, done) = run_job(&stack, &query(&receiver.url(), "started,completed")).await;

    let calls = receiver.wait_for(2).await;
    assert_eq!(
        calls.iter().map(|c| c.event.as_str()).collect::<Vec<_>>(),
        ["started", "completed"],
        "only the events asked for, in order"
    );
    for call in &calls {
        verify(call);
    }
    let started: Value = serde_json::from_slice(&calls[0].body).expect("json");
    assert_eq!(started["id"], id.as_str());
    assert_eq!(started["state"], "processing");
    let completed: Value = serde_json::from_slice(&calls[1].body).expect("json");
    // The status JSON the API answers, less the links and backlog it adds.
    let mut status = done.clone();
    let object = status.as_object_mut().expect("object");
    object.remove("links");
    object.remove("backlog");
    assert_eq!(completed, status);
    assert_eq!(completed["params"]["webhook"], receiver.url().as_str());
    assert_ne!(calls[0].id, calls[1].id, "each call has its own id");
    stack.shutdown().await;
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn stage_calls_name_their_stage_in_pipeline_order() {
    let receiver = Receiver::start(0);
    let stack = stack(policy(&["127.0.0.1"])).await;
    run_job(&stack, &query(&receiver.url(), "stage")).await;
    // The worker itself enters `fetch` and `store`; the processor's stages fall between.
    receiver.wait_for(2).await;
    // Let any later stage call arrive before reading them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = receiver.calls();
    assert!(calls.iter().all(|c| c.event == "stage"), "{calls:?}");
    let stages: Vec<&str> = calls.iter().map(|c| c.stage.as_str()).collect();
    assert_eq!(stages.first(), Some(&"fetch"), "{stages:?}");
    assert_eq!(stages.last(), Some(&"store"), "{stages:?}");
    for call in &calls {
        verify(call);
    }
    stack.shutdown().await;
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_call_again() {
    let receiver = Receiver::start(2);
    let stack = stack(policy(&["127.0.0.0/8"])).await;
    run_job(&stack, &query(&receiver.url(), "completed")).await;
    let calls = receiver.wait_for(3).await;
    assert!(calls.iter().all(|c| c.event == "completed"));
    assert!(
        calls
            .iter()
            .all(|c| c.id == calls[0].id && c.body == calls[0].body),
        "the same call, tried three times"
    );
    for call in &calls {
        verify(call);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.calls().len(), 3, "no call after the 200");
    stack.shutdown().await;
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn an_address_not_allow_listed_is_refused_and_the_job_still_succeeds() {
    let receiver = Receiver::start(0);
    let stack = stack(policy(&["10.0.0.0/8"])).await;
    let refused_before = deliveries("completed", "refused");
    run_job(&stack, &query(&receiver.url(), "started,completed")).await;
    for _ in 0..100 {
        if deliveries("completed", "refused") > refused_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        deliveries("completed", "refused") > refused_before,
        "the refusal is counted"
    );
    assert!(receiver.calls().is_empty(), "127.0.0.1 was never called");
    stack.shutdown().await;
    receiver.handle.stop(false).await;
}

fn deliveries(event: &str, outcome: &str) -> u64 {
    facefix_shared::metrics::metrics()
        .webhook_deliveries_total
        .with_label_values(&[event, outcome])
        .get()
}

#[tokio::test]
async fn an_https_only_deployment_refuses_an_http_url_at_submit() {
    let stack = stack(WebhookArgs {
        webhook_allow_http: false,
        ..policy(&["127.0.0.1"])
    })
    .await;
    for query in [
        query("http://127.0.0.1:9/hook", "completed"),
        "?webhook=not-a-url".to_string(),
        "?webhook_events=started".to_string(),
    ] {
        let response = stack
            .upload(read_testdata("images/astronaut.png"), &query)
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid-option", "{query}: {body}");
    }
    stack.shutdown().await;
}
