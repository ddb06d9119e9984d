//! End to end over HTTP on the embedded adapters (no services needed).

mod common;

use common::{Backend, guards, scenarios};

#[tokio::test]
async fn lifecycle() {
    scenarios::lifecycle(Backend::Embedded).await;
}

#[tokio::test]
async fn bad_inputs() {
    scenarios::bad_inputs(Backend::Embedded).await;
}

#[tokio::test]
async fn live_events() {
    scenarios::live_events(Backend::Embedded).await;
}

#[tokio::test]
async fn backpressure() {
    scenarios::backpressure(Backend::Embedded).await;
}

#[tokio::test]
async fn retention() {
    scenarios::retention(Backend::Embedded).await;
}

#[tokio::test]
async fn store_loss_keeps_queued_jobs() {
    scenarios::store_loss_keeps_queued_jobs(Backend::Embedded).await;
}

#[tokio::test]
async fn store_loss_keeps_the_retention_promise() {
    scenarios::store_loss_keeps_the_retention_promise(Backend::Embedded).await;
}

#[tokio::test]
async fn chunked_over_the_limit() {
    guards::chunked_over_the_limit(Backend::Embedded).await;
}

#[tokio::test]
async fn slow_bodies_time_out() {
    guards::slow_bodies_time_out(Backend::Embedded).await;
}

#[tokio::test]
async fn uploads_over_the_memory_budget_are_refused() {
    guards::uploads_over_the_memory_budget_are_refused(Backend::Embedded).await;
}

#[tokio::test]
async fn security_headers_everywhere() {
    guards::security_headers_everywhere(Backend::Embedded).await;
}

#[tokio::test]
async fn cross_origin_requests_are_refused_unless_listed() {
    guards::cross_origin_requests_are_refused_unless_listed(Backend::Embedded).await;
}
