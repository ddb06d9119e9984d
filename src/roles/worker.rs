//! `facefix worker`: a queue worker with its probe server.

use super::{connect, processor};
use crate::cli::WorkerRoleArgs;
use anyhow::Context;
use facefix_api::Readiness;
use facefix_api::routes::health::check_services;
use facefix_shared::connect::Services;
use facefix_worker::Worker;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Ready when the services answer and the worker is consuming (not draining).
struct WorkerReadiness {
    services: Services,
    consuming: AtomicBool,
}

#[async_trait::async_trait]
impl Readiness for WorkerReadiness {
    async fn check(&self) -> BTreeMap<&'static str, String> {
        let mut checks = check_services(&self.services).await;
        let consuming = if self.consuming.load(Ordering::Relaxed) {
            "ok"
        } else {
            "not consuming (starting or draining)"
        };
        checks.insert("consumer", consuming.to_string());
        checks
    }
}

pub async fn run(args: WorkerRoleArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let services = connect(&args.services, "worker", &["queue", "store", "blob"]).await?;
    let readiness = Arc::new(WorkerReadiness {
        services: services.clone(),
        consuming: AtomicBool::new(false),
    });
    let probe = facefix_api::start_probe_server(args.listen.listen, readiness.clone())
        .context("cannot start the probe server")?;
    let processor = processor(&args.models, &args.limits).await?;
    let worker = Worker::new(services, processor, args.worker);
    readiness.consuming.store(true, Ordering::Relaxed);
    let stop = shutdown.clone();
    let watcher = tokio::spawn({
        let readiness = readiness.clone();
        async move {
            stop.cancelled().await;
            readiness.consuming.store(false, Ordering::Relaxed);
        }
    });
    let result = worker.run(shutdown).await;
    let _ = watcher.await;
    probe.stop().await;
    result.context("the worker could not consume")
}
