//! `facefix serve`: API, worker and sweeper in one process (`--no-worker`: API and sweeper).

use super::{
    api_state, connect, manifest_offer, processor, processor_offer, start_metrics, stop_metrics,
};
use crate::cli::ServeArgs;
use anyhow::Context;
use facefix_shared::retention::Sweeper;
use facefix_worker::Worker;
use tokio_util::sync::CancellationToken;

pub async fn run(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let services = connect(&args.api.services, "serve", &[]).await?;
    // Without a worker no models are loaded; the API still lists the manifest's restorers,
    // as `facefix api` does, for the workers elsewhere.
    let processor = if args.no_worker {
        if args.api.services.queue.queue_url.is_none() {
            tracing::warn!(
                "--no-worker with the embedded queue: nothing will process jobs; they stay queued until they expire"
            );
        }
        None
    } else {
        Some(processor(&args.models, &args.api.limits).await?)
    };
    let offer = match &processor {
        Some(processor) => processor_offer(processor.as_ref()),
        None => manifest_offer(
            args.models.model.models_dir.as_deref(),
            args.models
                .model
                .bg_upsampler_max_pixels
                .unwrap_or(facefix_shared::models::BG_UPSAMPLER_CPU_MAX_PIXELS),
        ),
    };
    let background = CancellationToken::new();
    let state = api_state(services.clone(), &args.api, offer, background.clone())?;
    let backlog = tokio::spawn(
        state
            .backlog
            .clone()
            .run(services.clone(), background.clone()),
    );
    let sweeper = tokio::spawn(
        Sweeper::new(
            services.store.clone(),
            services.blobs.clone(),
            args.api.retention.clone(),
        )
        .run(background.clone()),
    );
    let worker_stop = CancellationToken::new();
    let worker = processor.map(|processor| {
        tokio::spawn(
            Worker::with_webhooks(
                services.clone(),
                processor,
                args.worker.clone(),
                args.api.webhooks.clone(),
            )
            .run(worker_stop.clone()),
        )
    });
    let metrics = start_metrics(&args.api, services.clone())?;
    let server =
        facefix_api::start_api(args.api.listen.listen, state).context("cannot start the API")?;
    if let Some(metrics) = &metrics {
        println!("metrics at http://{}/metrics", metrics.addr);
    }
    println!("facefix is running at http://{}/", server.addr);
    shutdown.cancelled().await;
    // Stop taking uploads first, then let the worker drain, then the background tasks.
    server.stop().await;
    stop_metrics(metrics).await;
    worker_stop.cancel();
    if let Some(worker) = worker {
        match worker.await {
            Ok(Err(error)) => tracing::error!(%error, "the worker stopped with an error"),
            Err(error) => tracing::error!(%error, "the worker task failed"),
            Ok(Ok(())) => {}
        }
    }
    background.cancel();
    let _ = tokio::join!(backlog, sweeper);
    Ok(())
}
