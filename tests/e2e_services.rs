//! End to end over HTTP on the real services (RabbitMQ, Redis, MinIO on 127.0.0.1, started
//! by `deploy/dev-services.sh`).

mod common;

use common::{Backend, guards, real_services_enabled, scenarios};

#[tokio::test]
async fn lifecycle() {
    if real_services_enabled("lifecycle") {
        scenarios::lifecycle(Backend::Real).await;
    }
}

#[tokio::test]
async fn bad_inputs() {
    if real_services_enabled("bad_inputs") {
        scenarios::bad_inputs(Backend::Real).await;
    }
}

#[tokio::test]
async fn live_events() {
    if real_services_enabled("live_events") {
        scenarios::live_events(Backend::Real).await;
    }
}

#[tokio::test]
async fn backpressure() {
    if real_services_enabled("backpressure") {
        scenarios::backpressure(Backend::Real).await;
    }
}

#[tokio::test]
async fn retention() {
    if real_services_enabled("retention") {
        scenarios::retention(Backend::Real).await;
    }
}

#[tokio::test]
async fn store_loss_keeps_queued_jobs() {
    if real_services_enabled("store_loss_keeps_queued_jobs") {
        scenarios::store_loss_keeps_queued_jobs(Backend::Real).await;
    }
}

#[tokio::test]
async fn store_loss_keeps_the_retention_promise() {
    if real_services_enabled("store_loss_keeps_the_retention_promise") {
        scenarios::store_loss_keeps_the_retention_promise(Backend::Real).await;
    }
}

#[tokio::test]
async fn chunked_over_the_limit() {
    if real_services_enabled("chunked_over_the_limit") {
        guards::chunked_over_the_limit(Backend::Real).await;
    }
}

#[tokio::test]
async fn slow_bodies_time_out() {
    if real_services_enabled("slow_bodies_time_out") {
        guards::slow_bodies_time_out(Backend::Real).await;
    }
}

#[tokio::test]
async fn uploads_over_the_memory_budget_are_refused() {
    if real_services_enabled("uploads_over_the_memory_budget_are_refused") {
        guards::uploads_over_the_memory_budget_are_refused(Backend::Real).await;
    }
}

#[tokio::test]
async fn security_headers_everywhere() {
    if real_services_enabled("security_headers_everywhere") {
        guards::security_headers_everywhere(Backend::Real).await;
    }
}

#[tokio::test]
async fn cross_origin_requests_are_refused_unless_listed() {
    if real_services_enabled("cross_origin_requests_are_refused_unless_listed") {
        guards::cross_origin_requests_are_refused_unless_listed(Backend::Real).await;
    }
}
