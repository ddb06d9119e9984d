//! End to end over HTTP on the embedded adapters (no services needed).

mod common;

use common::{Backend, scenarios};

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
