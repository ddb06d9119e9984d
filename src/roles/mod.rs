//! Wiring of each role: connect the ports, start the parts, wait for shutdown, stop in
//! order.

pub mod api;
pub mod restore;
pub mod serve;
pub mod sweeper;
pub mod worker;

use crate::cli::{ApiArgs, MetricsListen, ProcessorArgs, ServiceArgs};
use anyhow::{Context, bail};
use facefix_api::security::OriginPolicy;
use facefix_api::upload::flow::UploadFlow;
use facefix_api::{AppState, RunningServer};
use facefix_shared::connect::{Services, redact_url};
use facefix_shared::intake::UploadLimits;
use facefix_shared::models::{Manifest, Offer, locate_models_dir};
use facefix_worker::pipeline::FacePipeline;
use facefix_worker::processors::ImageProcessor;
use facefix_worker::processors::PassThrough;
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

/// The image processor of this process: the face pipeline, or the pass-through one when
/// asked for explicitly. Loading models is slow, so it runs off the async threads.
pub async fn processor(
    args: &ProcessorArgs,
    limits: &UploadLimits,
) -> anyhow::Result<Arc<dyn ImageProcessor>> {
    if args.no_models {
        tracing::warn!(
            "running without face models (--no-models): images are only oriented, upscaled and re-encoded"
        );
        return Ok(Arc::new(PassThrough::new(limits.image)));
    }
    let model_args = args.model.clone();
    let pipeline = tokio::task::spawn_blocking(move || FacePipeline::load(&model_args))
        .await
        .context("model loading panicked")?
        .context(
            "cannot load the face models (run scripts/setup-models.sh, or pass --no-models)",
        )?;
    Ok(Arc::new(pipeline.with_decode_limits(limits.image)))
}

/// What the manifest lists, for an API process that loads no models; the background
/// upsamplers with `upsampler_max_pixels` (the workers' limit, which this process cannot
/// see).
pub fn manifest_offer(models_dir: Option<&std::path::Path>, upsampler_max_pixels: u64) -> Offer {
    let manifest = locate_models_dir(models_dir)
        .and_then(|dir| Manifest::load_dir(&dir).map(|manifest| (manifest, dir)));
    match manifest {
        Ok((manifest, dir)) => Offer {
            models: manifest.listing(&dir),
            upsamplers: manifest.upsampler_listing(upsampler_max_pixels),
        },
        Err(error) => {
            tracing::warn!(%error, "no model manifest; any model name is passed on to the workers");
            Offer::default()
        }
    }
}

/// What the API lists and accepts: what the processor loaded.
pub fn processor_offer(processor: &dyn ImageProcessor) -> Offer {
    Offer {
        models: processor.models(),
        upsamplers: processor.upsamplers(),
    }
}

/// Builds the API's state; the keys file (if any) is watched until `background` ends.
pub fn api_state(
    services: Services,
    args: &ApiArgs,
    offer: Offer,
    background: tokio_util::sync::CancellationToken,
) -> anyhow::Result<AppState> {
    let keys = facefix_api::keys::key_access(&args.keys, &args.services.store, background)
        .context("cannot set up the API keys (--api-keys-file)")?;
    Ok(AppState {
        services,
        limits: args.limits.clone(),
        uploads: Arc::new(UploadFlow::new(args.uploads.clone())),
        origins: Arc::new(OriginPolicy::new(&args.cors)),
        retention: args.retention.clone(),
        backlog: Arc::new(facefix_api::backlog::BacklogMonitor::new(
            args.backlog.clone(),
        )),
        models: Arc::new(offer.models),
        upsamplers: Arc::new(offer.upsamplers),
        webhooks: Arc::new(args.webhooks.clone()),
        keys,
    })
}

/// Starts the API's metrics listener (`--metrics-listen`), unless it is `off`.
pub fn start_metrics(args: &ApiArgs, services: Services) -> anyhow::Result<Option<RunningServer>> {
    let MetricsListen::At(listen) = args.metrics.metrics_listen else {
        tracing::info!("--metrics-listen off: the API serves no metrics");
        return Ok(None);
    };
    let server = facefix_api::start_metrics_server(listen, services).with_context(|| {
        format!("cannot serve metrics on {listen} (--metrics-listen: another address, port 0 for any, or `off`)")
    })?;
    Ok(Some(server))
}

/// Stops the metrics listener, if one runs.
pub async fn stop_metrics(server: Option<RunningServer>) {
    if let Some(server) = server {
        server.stop().await;
    }
}
