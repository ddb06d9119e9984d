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

/// Started once the models are loaded (the startup probe: model load and CUDA session
/// creation can take minutes, and can hang); ready when, besides, the services answer
/// and the worker is consuming (not draining).
struct WorkerReadiness {
    services: Services,
    models: ModelsLoaded,
    consuming: AtomicBool,
}

/// Whether the worker's models are loaded: the check behind `/startupz`.
#[derive(Default)]
pub(crate) struct ModelsLoaded(AtomicBool);

impl ModelsLoaded {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub(crate) fn checks(&self) -> BTreeMap<&'static str, String> {
        let state = if self.0.load(Ordering::Relaxed) {
            "ok"
        } else {
            "loading"
        };
        BTreeMap::from([("models", state.to_string())])
    }
}

#[async_trait::async_trait]
impl Readiness for WorkerReadiness {
    async fn started(&self) -> BTreeMap<&'static str, String> {
        self.models.checks()
    }

    async fn check(&self) -> BTreeMap<&'static str, String> {
        let mut checks = check_services(&self.services).await;
        checks.extend(self.models.checks());
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
        models: ModelsLoaded::default(),
        consuming: AtomicBool::new(false),
    });
    let probe = facefix_api::start_probe_server(args.listen.listen, readiness.clone())
        .context("cannot start the probe server")?;
    let processor = processor(&args.models, &args.limits).await?;
    readiness.models.set();
    let worker = Worker::with_webhooks(services, processor, args.worker, args.webhooks);
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

#[cfg(test)]
mod tests {
    use super::ModelsLoaded;
    use actix_web::{App, http::StatusCode, test, web};
    use facefix_api::{Readiness, probe_routes};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// The worker's probe answers with its model check alone (no services needed).
    struct Models(Arc<ModelsLoaded>);

    #[async_trait::async_trait]
    impl Readiness for Models {
        async fn started(&self) -> BTreeMap<&'static str, String> {
            self.0.checks()
        }

        async fn check(&self) -> BTreeMap<&'static str, String> {
            self.0.checks()
        }
    }

    #[actix_web::test]
    async fn startupz_passes_only_once_the_models_are_loaded() {
        let models = Arc::new(ModelsLoaded::default());
        let readiness: Arc<dyn Readiness> = Arc::new(Models(models.clone()));
        let app = test::init_service(
            App::new()
                .app_data(web::Data::from(readiness))
                .configure(probe_routes),
        )
        .await;
        let get = |path: &str| test::TestRequest::get().uri(path).to_request();

        // Loading: the process is alive (liveness) but has not started (startup probe).
        let health = test::call_service(&app, get("/healthz")).await;
        assert_eq!(health.status(), StatusCode::OK);
        let before = test::call_service(&app, get("/startupz")).await;
        assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = test::read_body_json(before).await;
        assert_eq!(body["checks"]["models"], "loading", "{body}");

        models.set();
        let after = test::call_service(&app, get("/startupz")).await;
        assert_eq!(after.status(), StatusCode::OK);
        let body: serde_json::Value = test::read_body_json(after).await;
        assert_eq!(body["checks"]["models"], "ok", "{body}");
    }
}
