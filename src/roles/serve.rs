//! `facefix serve`: API, worker and sweeper in one process.

use super::{api_state, connect, model_entries, processor};
use crate::cli::ServeArgs;
use anyhow::Context;
use facefix_shared::retention::Sweeper;
use facefix_worker::Worker;
use tokio_util::sync::CancellationToken;

pub async fn run(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let services = connect(&args.services, "serve", &[]).await?;
    let processor = processor(&args.models, &args.limits).await?;
    let state = api_state(
        services.clone(),
        args.limits.clone(),
        args.retention.clone(),
        args.backlog.clone(),
        model_entries(processor.as_ref()),
    );
    let background = CancellationToken::new();
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
            args.retention.clone(),
        )
        .run(background.clone()),
    );
    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(
        Worker::new(services.clone(), processor, args.worker.clone()).run(worker_stop.clone()),
    );
    let server =
        facefix_api::start_api(args.listen.listen, state).context("cannot start the API")?;
    println!("facefix is running at http://{}/", server.addr);
    shutdown.cancelled().await;
    // Stop taking uploads first, then let the worker drain, then the background tasks.
    server.stop().await;
    worker_stop.cancel();
    match worker.await {
        Ok(Err(error)) => tracing::error!(%error, "the worker stopped with an error"),
        Err(error) => tracing::error!(%error, "the worker task failed"),
        Ok(Ok(())) => {}
    }
    background.cancel();
    let _ = tokio::join!(backlog, sweeper);
    Ok(())
}
