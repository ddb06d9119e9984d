//! Optional API keys (`--api-keys-file`): who may call `/v1`, whose jobs are whose, and
//! each key's rate and concurrent-job quota.

pub mod access;
pub mod gate;
pub mod ring;

pub use access::KeyAccess;
pub use gate::{caller, check_budget, may_see, require_key};
pub use ring::{ApiKey, KeyFileError, KeyRing};

use clap::Args;
use facefix_shared::config::StoreArgs;
use facefix_shared::connect::connect_key_limits;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// API keys, off unless a keys file is given.
#[derive(Debug, Clone, Args)]
pub struct ApiKeyArgs {
    /// File of API keys, one a line: `name sha256hex jobs_per_minute max_concurrent`
    /// (`#` comments). With it every `/v1` call needs `Authorization: Bearer <key>`;
    /// without it the service is open. Reloaded when it changes and on SIGHUP.
    #[arg(long, env = "FACEFIX_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// How often the keys file is looked at for changes.
    #[arg(long, env = "FACEFIX_API_KEYS_RELOAD_INTERVAL", default_value = "2s", value_parser = facefix_shared::config::parse_duration)]
    pub api_keys_reload_interval: Duration,
}

impl Default for ApiKeyArgs {
    fn default() -> Self {
        Self {
            api_keys_file: None,
            api_keys_reload_interval: Duration::from_secs(2),
        }
    }
}

/// Why the API keys could not be set up; the API does not start (a broken file must never
/// leave the service open).
#[derive(Debug, thiserror::Error)]
pub enum KeySetupError {
    #[error(transparent)]
    File(#[from] KeyFileError),
    #[error("api-keys-limits: {0}")]
    Limits(#[from] facefix_shared::connect::ConnectError),
}

/// The key policy of `args`, its limits beside the job store (`store`), and the task that
/// keeps the keys current until `stop` (none without a file).
pub fn key_access(
    args: &ApiKeyArgs,
    store: &StoreArgs,
    stop: CancellationToken,
) -> Result<Arc<KeyAccess>, KeySetupError> {
    let Some(file) = &args.api_keys_file else {
        return Ok(Arc::new(KeyAccess::open(Arc::new(
            facefix_shared::key_limits::MemoryKeyLimits::new(),
        ))));
    };
    let access = Arc::new(KeyAccess::from_file(
        file.clone(),
        connect_key_limits(store)?,
    )?);
    tokio::spawn(access.clone().watch(args.api_keys_reload_interval, stop));
    Ok(access)
}
