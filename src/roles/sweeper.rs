//! `facefix sweeper`: the retention sweeper alone, with its probe server.

use super::connect;
use crate::cli::SweeperRoleArgs;
use anyhow::Context;
use facefix_api::Readiness;
use facefix_shared::connect::Services;
use facefix_shared::retention::Sweeper;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct SweeperReadiness {
    services: Services,
}

#[async_trait::async_trait]
impl Readiness for SweeperReadiness {
    async fn check(&self) -> BTreeMap<&'static str, String> {
        let timeout = Duration::from_secs(2);
        let store = match tokio::time::timeout(timeout, self.services.store.check()).await {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer".to_string(),
        };
        let blobs = match tokio::time::timeout(timeout, self.services.blobs.check()).await {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer".to_string(),
        };
        BTreeMap::from([("store", store), ("blobs", blobs)])
    }
}

pub async fn run(args: SweeperRoleArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let services = connect(&args.services, "sweeper", &["store", "blob"]).await?;
    let probe = facefix_api::start_probe_server(
        args.listen.listen,
        Arc::new(SweeperReadiness {
            services: services.clone(),
        }),
    )
    .context("cannot start the probe server")?;
    Sweeper::new(
        services.store.clone(),
        services.blobs.clone(),
        args.retention,
    )
    .run(shutdown)
    .await;
    probe.stop().await;
    Ok(())
}
