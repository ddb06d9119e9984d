//! Logs and traces: `tracing` everywhere, OpenTelemetry (OTLP/HTTP) export when an
//! endpoint is configured, and the W3C trace context carried across the queue so one
//! upload and its processing form one trace.

use crate::config::{LogFormat, TelemetryArgs};
use crate::ports::TraceHeaders;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("cannot set up the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
    #[error("logging was already initialised: {0}")]
    AlreadySet(String),
}

/// What is exported as traces, independent of the log filter: quiet logs must not cost
/// the traces. Library internals stay out.
const TRACE_FILTER: &str =
    "info,ort=warn,lapin=warn,aws=warn,aws_smithy_runtime=warn,h2=warn,hyper=warn,reqwest=warn";

/// Flushes and stops trace export when the process ends.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered and stops the exporter. The exporter's HTTP client is
    /// blocking, so this runs off the async threads.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = tokio::task::spawn_blocking(move || {
                let _ = provider.force_flush();
                let _ = provider.shutdown();
            })
            .await;
        }
    }

    /// Exports what is buffered now (tests use it to see spans without stopping).
    pub async fn flush(&self) {
        if let Some(provider) = self.provider.clone() {
            let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        }
    }
}

fn otlp_endpoint(args: &TelemetryArgs) -> Option<String> {
    args.otlp_endpoint
        .clone()
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").ok())
        .filter(|endpoint| !endpoint.trim().is_empty())
}

/// Installs the global subscriber (logs + optional OTLP traces) for `role`.
pub fn init(args: &TelemetryArgs, role: &str) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&args.log).map_err(|e| TelemetryError::Filter {
        filter: args.log.clone(),
        reason: e.to_string(),
    })?;
    let fmt_layer = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let service_name = args
        .service_name
        .clone()
        .unwrap_or_else(|| format!("facefix-{role}"));
    let (otel_layer, provider) = match otlp_endpoint(args) {
        Some(endpoint) => {
            let provider = tracer_provider(&endpoint, &service_name)?;
            let tracer = provider.tracer("facefix");
            opentelemetry::global::set_tracer_provider(provider.clone());
            (
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
                Some(provider),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer.map(|layer| layer.with_filter(EnvFilter::new(TRACE_FILTER))))
        .try_init()
        .map_err(|e| TelemetryError::AlreadySet(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}

fn tracer_provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .with_headers(Default::default())
        .build()
        .map_err(|e| TelemetryError::Exporter {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_string())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

struct HeaderInjector<'a>(&'a mut TraceHeaders);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct HeaderExtractor<'a>(&'a TraceHeaders);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context of `span`, as message headers (empty when tracing is off).
pub fn trace_headers(span: &tracing::Span) -> TraceHeaders {
    let mut headers = TraceHeaders::new();
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
    headers
}

/// Makes `span` a child of the trace described by `headers` (a `traceparent` from HTTP or
/// AMQP). Headers without a valid context leave the span a root.
pub fn continue_trace(span: &tracing::Span, headers: &TraceHeaders) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(context);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracting_garbage_is_harmless() {
        let mut headers = TraceHeaders::new();
        headers.insert("traceparent".into(), "garbage".into());
        continue_trace(&tracing::Span::none(), &headers);
        assert!(!trace_headers(&tracing::Span::none()).contains_key("traceparent"));
    }
}
