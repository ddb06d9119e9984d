//! Which keys are in force, and keeping them current as the file changes.

use super::ring::{ApiKey, KeyFileError, KeyRing};
use facefix_shared::key_limits::KeyLimits;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The API's key policy: open (no keys file: embedded and local use), or the keys of a
/// file, reloaded when it changes or on SIGHUP.
pub struct KeyAccess {
    file: Option<PathBuf>,
    ring: RwLock<Arc<KeyRing>>,
    /// The keys' token buckets and jobs, shared with the other API replicas.
    pub limits: Arc<dyn KeyLimits>,
}

impl std::fmt::Debug for KeyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAccess")
            .field("file", &self.file)
            .field("keys", &self.ring().len())
            .finish()
    }
}

impl KeyAccess {
    /// No keys: every request is served, as before keys existed.
    pub fn open(limits: Arc<dyn KeyLimits>) -> Self {
        Self {
            file: None,
            ring: RwLock::new(Arc::new(KeyRing::default())),
            limits,
        }
    }

    /// The keys of `path`; fails when the file cannot be read or parsed, so a broken file
    /// never starts an open service.
    pub fn from_file(path: PathBuf, limits: Arc<dyn KeyLimits>) -> Result<Self, KeyFileError> {
        let ring = KeyRing::load(&path)?;
        tracing::info!(file = %path.display(), keys = ring.len(), "API keys required");
        Ok(Self {
            file: Some(path),
            ring: RwLock::new(Arc::new(ring)),
            limits,
        })
    }

    /// Whether `/v1` calls need a key.
    pub fn required(&self) -> bool {
        self.file.is_some()
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The key `presented` is, if it is one in force.
    pub fn identify(&self, presented: &str) -> Option<Arc<ApiKey>> {
        self.ring().identify(presented)
    }

    /// Reads the file again. A file that cannot be read or parsed leaves the keys in force
    /// as they were (never opens the service); the error is logged and returned.
    pub fn reload(&self) -> Result<usize, KeyFileError> {
        let Some(path) = &self.file else {
            return Ok(0);
        };
        match KeyRing::load(path) {
            Ok(ring) => {
                let count = ring.len();
                *self
                    .ring
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
                tracing::info!(file = %path.display(), keys = count, "API keys reloaded");
                Ok(count)
            }
            Err(error) => {
                tracing::error!(%error, "API keys file not reloaded; the previous keys stay in force");
                Err(error)
            }
        }
    }

    /// Reloads the keys whenever the file's content changes (looked at every `interval`)
    /// and on SIGHUP, until `stop`. Content rather than mtime: an edit within the same
    /// second, or a Kubernetes Secret's symlink swap, still counts.
    pub async fn watch(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let Some(path) = self.file.clone() else {
            return;
        };
        let mut seen = std::fs::read(&path).ok();
        let mut hangup = hangup_signals();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let by_signal = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => false,
                _ = next_hangup(&mut hangup) => true,
            };
            let now = std::fs::read(&path).ok();
            if by_signal || now != seen {
                seen = now;
                let _ = self.reload();
            }
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangup_signals() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for SIGHUP; the keys file is still watched"))
        .ok()
}

#[cfg(not(unix))]
fn hangup_signals() -> Hangups {
    None
}

async fn next_hangup(hangups: &mut Hangups) {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        signal.recv().await;
        return;
    }
    let _ = hangups;
    std::future::pending::<()>().await
}
