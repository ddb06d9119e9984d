//! Starting the HTTP servers: the API, and the small probe server that serves health and
//! metrics on a private port (the worker's, the sweeper's, and the API's `--metrics-listen`).

use crate::keys::require_key;
use crate::observe::observe;
use crate::routes::{events, health, jobs, models, openapi, web as page};
use crate::security::{cors, refuse_foreign_origins};
use crate::state::AppState;
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use facefix_shared::connect::Services;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long in-flight requests may finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running HTTP server.
pub struct RunningServer {
    /// Where it listens (resolved: port 0 becomes the real port).
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// Every route of the API. `/metrics` is not one: it is served on the private metrics
/// port ([`start_metrics_server`]), so the public port answers 404 for it.
pub fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page::index))
        .route("/static/{file}", web::get().to(page::static_file))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/openapi.json", web::get().to(openapi::openapi_json))
        .route("/v1/models", web::get().to(models::list_models))
        .route("/v1/jobs", web::post().to(jobs::create_job))
        .route("/v1/jobs/{id}", web::get().to(jobs::get_job))
        .route("/v1/jobs/{id}", web::delete().to(jobs::delete_job))
        .route("/v1/jobs/{id}/events", web::get().to(events::job_events))
        .route("/v1/jobs/{id}/result", web::get().to(jobs::get_result))
        .route("/v1/jobs/{id}/input", web::get().to(jobs::get_input));
}

fn start(server: actix_web::dev::Server, addr: SocketAddr) -> RunningServer {
    let handle = server.handle();
    let task = tokio::spawn(server);
    RunningServer { addr, handle, task }
}

fn first_addr(addrs: Vec<SocketAddr>, listen: SocketAddr) -> SocketAddr {
    addrs.into_iter().next().unwrap_or(listen)
}

/// Starts the API on `listen` (port 0 picks one).
pub fn start_api(listen: SocketAddr, state: AppState) -> std::io::Result<RunningServer> {
    let origins = state.origins.clone();
    let keys = state.keys.clone();
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let gate = origins.clone();
        let keys = keys.clone();
        // The last wrap runs first: observe (span, metrics, security headers) sees every
        // answer, the origin gate's refusals and the CORS layer's preflights included. The
        // key gate runs inside CORS, so a refusal still carries the CORS headers a page
        // needs to read it.
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(move |request, next| {
                require_key(keys.clone(), request, next)
            }))
            .wrap(cors(origins.clone()))
            .wrap(from_fn(move |request, next| {
                refuse_foreign_origins(gate.clone(), request, next)
            }))
            .wrap(from_fn(observe))
            .configure(api_routes)
            .default_service(web::to(|| async {
                crate::error::ApiError::new(facefix_shared::ErrorCode::NotFound, "no such endpoint")
            }))
    })
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .bind(listen)?;
    let addr = first_addr(server.addrs(), listen);
    tracing::info!(%addr, "API listening");
    Ok(start(server.run(), addr))
}

impl actix_web::Responder for crate::error::ApiError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// What the probe server's `/readyz` asks.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// Each check's name and "ok" or what is wrong.
    async fn check(&self) -> BTreeMap<&'static str, String>;

    /// What `/startupz` asks: the one-time work before the process can serve (the
    /// worker's model load), never its dependencies. Nothing by default.
    async fn started(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::new()
    }
}

/// Routes of the probe server: `/healthz` (the process answers), `/startupz` (its
/// start-up work is done), `/readyz` (it can work now), `/metrics`.
pub fn probe_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics_text))
        .route(
            "/startupz",
            web::get().to(|readiness: web::Data<dyn Readiness>| async move {
                health::readiness_response(readiness.started().await)
            }),
        )
        .route(
            "/readyz",
            web::get().to(|readiness: web::Data<dyn Readiness>| async move {
                health::readiness_response(readiness.check().await)
            }),
        );
}

/// The API's readiness on its metrics port: the same checks as its public `/readyz`.
struct ServiceChecks(Services);

#[async_trait::async_trait]
impl Readiness for ServiceChecks {
    async fn check(&self) -> BTreeMap<&'static str, String> {
        health::check_services(&self.0).await
    }
}

/// Starts the API's private listener: `/metrics`, with the probe routes beside it.
pub fn start_metrics_server(
    listen: SocketAddr,
    services: Services,
) -> std::io::Result<RunningServer> {
    start_probe_server(listen, Arc::new(ServiceChecks(services)))
}

/// Starts a probe server (`probe_routes`): the worker's, the sweeper's or the API's metrics one.
pub fn start_probe_server(
    listen: SocketAddr,
    readiness: Arc<dyn Readiness>,
) -> std::io::Result<RunningServer> {
    let data = web::Data::from(readiness);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(observe))
            .configure(probe_routes)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .bind(listen)?;
    let addr = first_addr(server.addrs(), listen);
    tracing::info!(%addr, "probe server listening");
    Ok(start(server.run(), addr))
}
