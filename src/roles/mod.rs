//! Wiring of each role: connect the ports, start the parts, wait for shutdown, stop in
//! order.

pub mod api;
pub mod serve;
pub mod sweeper;
pub mod worker;

use crate::cli::ServiceArgs;
use anyhow::{Context, bail};
use facefix_api::{AppState, ModelEntry};
use facefix_shared::connect::{Services, redact_url};
use facefix_worker::passthrough::PassThrough;
use facefix_worker::processor::ImageProcessor;
use std::sync::Arc;

/// Connects the ports; `required` names the URLs this role cannot do without.
pub async fn connect(
    args: &ServiceArgs,
    role: &str,
    required: &[&str],
) -> anyhow::Result<Services> {
    let urls = [
        ("queue", args.queue.queue_url.as_deref()),
        ("store", args.store.store_url.as_deref()),
        ("blob", args.blob.blob_url.as_deref()),
    ];
    let missing: Vec<&str> = urls
        .iter()
        .filter(|(name, url)| required.contains(name) && url.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        let flags: Vec<String> = missing.iter().map(|m| format!("--{m}-url")).collect();
        bail!(
            "the {role} role runs beside other processes and needs {} (for one process with no services, run `facefix serve`)",
            flags.join(", ")
        );
    }
    for (name, url) in urls {
        match url {
            Some(url) => {
                tracing::info!(port = name, url = %redact_url(url), "using a real adapter")
            }
            None => tracing::info!(port = name, "using the embedded adapter"),
        }
    }
    Services::connect(&args.queue, &args.store, &args.blob)
        .await
        .context("cannot connect to the services")
}

/// The image processor of this process.
pub fn processor(max_pixels: u64) -> Arc<dyn ImageProcessor> {
    Arc::new(PassThrough { max_pixels })
}

/// The restorers the API lists and accepts.
pub fn model_entries(processor: &dyn ImageProcessor) -> Vec<ModelEntry> {
    processor
        .models()
        .into_iter()
        .map(|m| ModelEntry {
            name: m.name,
            description: m.description,
            licence: m.licence,
            fidelity: m.fidelity,
            default: m.default,
        })
        .collect()
}

/// Builds the API's state.
pub fn api_state(
    services: Services,
    limits: facefix_api::upload::limits::UploadLimits,
    retention: facefix_shared::config::RetentionArgs,
    backlog: facefix_api::backlog::BacklogArgs,
    models: Vec<ModelEntry>,
) -> AppState {
    AppState {
        services,
        limits,
        retention,
        backlog: Arc::new(facefix_api::backlog::BacklogMonitor::new(backlog)),
        models: Arc::new(models),
    }
}
