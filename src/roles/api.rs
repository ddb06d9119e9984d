//! `facefix api`: the HTTP API alone.

use super::{api_state, connect, manifest_offer, start_metrics, stop_metrics};
use crate::cli::ApiRoleArgs;
use anyhow::Context;
use tokio_util::sync::CancellationToken;

pub async fn run(args: ApiRoleArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let services = connect(&args.api.services, "api", &["queue", "store", "blob"]).await?;
    let offer = manifest_offer(args.models_dir.as_deref(), args.bg_upsampler_max_pixels);
    let background = CancellationToken::new();
    let state = api_state(services.clone(), &args.api, offer, background.clone())?;
    let backlog = tokio::spawn(
        state
            .backlog
            .clone()
            .run(services.clone(), background.clone()),
    );
    let metrics = start_metrics(&args.api, services.clone())?;
    let server =
        facefix_api::start_api(args.api.listen.listen, state).context("cannot start the API")?;
    shutdown.cancelled().await;
    server.stop().await;
    stop_metrics(metrics).await;
    background.cancel();
    let _ = backlog.await;
    Ok(())
}
