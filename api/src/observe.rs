//! One middleware for every request: a tracing span (continuing the caller's
//! `traceparent`), request metrics by route pattern, and the security headers.

use crate::security::add_security_headers;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use facefix_shared::metrics::metrics;
use facefix_shared::ports::TraceHeaders;
use facefix_shared::telemetry::continue_trace;
use std::time::Instant;
use tracing::Instrument;

const TRACE_HEADERS: &[&str] = &["traceparent", "tracestate"];

fn incoming_trace(request: &ServiceRequest) -> TraceHeaders {
    TRACE_HEADERS
        .iter()
        .filter_map(|name| {
            let value = request.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let span = tracing::info_span!(
        "http_request",
        otel.kind = "server",
        http.request.method = %method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        job_id = tracing::field::Empty,
    );
    continue_trace(&span, &incoming_trace(&request));
    let mut response = next.call(request).instrument(span.clone()).await?;
    // The pattern, not the path: ids never become label values.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16();
    span.record("http.route", route.as_str());
    span.record("http.response.status_code", status);
    let m = metrics();
    m.http_requests_total
        .with_label_values(&[&route, &method, &status.to_string()])
        .inc();
    m.http_request_duration_seconds
        .with_label_values(&[&route, &method])
        .observe(started.elapsed().as_secs_f64());
    add_security_headers(response.headers_mut());
    Ok(response)
}
