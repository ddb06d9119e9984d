//! facefix-api: the HTTP API (uploads, job status, SSE, results, web page, OpenAPI) and
//! the probe server: the other roles' health and metrics port, and the API's private one.

pub mod backlog;
pub mod error;
pub mod keys;
mod observe;
pub mod routes;
pub mod security;
pub mod server;
pub mod state;
pub mod submit;
pub mod upload;
pub mod views;

pub use server::{
    Readiness, RunningServer, probe_routes, start_api, start_metrics_server, start_probe_server,
};
pub use state::AppState;
