//! The limits of each API key that must hold across API replicas: its token bucket (jobs
//! per minute) and the jobs it has started (for its concurrent-job quota).
//!
//! Two adapters, picked like the job store's: in-process ([`MemoryKeyLimits`]) without a
//! store URL, Redis ([`RedisKeyLimits`]) with one, so replicas share one budget per key.
//! Keys are known here by their *name* only, never the key or its hash.

mod memory;
mod redis;

pub use self::redis::RedisKeyLimits;
pub use memory::MemoryKeyLimits;

use crate::job::JobId;
use crate::ports::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// Whether a token was taken from a key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Taken,
    /// The bucket is empty; the next token is there after this long.
    Empty {
        retry_after: Duration,
    },
}

/// Per-key budgets.
#[async_trait]
pub trait KeyLimits: Send + Sync + 'static {
    /// Takes a token from `key`'s bucket, which holds `per_minute` tokens when full and
    /// refills at `per_minute` a minute. A rate of 0 never has a token.
    async fn take(&self, key: &str, per_minute: u32) -> Result<Take, StoreError>;

    /// The jobs recorded for `key` with [`KeyLimits::add_job`] and not forgotten since;
    /// finished ones among them until the caller forgets them.
    async fn jobs(&self, key: &str) -> Result<Vec<JobId>, StoreError>;

    /// Records that `key` started `id`.
    async fn add_job(&self, key: &str, id: JobId) -> Result<(), StoreError>;

    /// Forgets jobs of `key` that are final or gone.
    async fn forget_jobs(&self, key: &str, ids: &[JobId]) -> Result<(), StoreError>;
}

/// How long until the next token of a bucket refilling at `per_minute`, holding `tokens`
/// (less than one). The in-process bucket's answer; the Redis script computes the same.
fn wait_for_token(tokens: f64, per_minute: u32) -> Duration {
    if per_minute == 0 {
        // Never: a minute is what a client should wait before asking again.
        return Duration::from_secs(60);
    }
    let per_second = f64::from(per_minute) / 60.0;
    Duration::from_secs_f64(((1.0 - tokens) / per_second).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bucket_waits_for_one_token() {
        assert_eq!(wait_for_token(0.0, 60), Duration::from_secs(1));
        assert_eq!(wait_for_token(0.5, 30), Duration::from_secs(1));
        assert_eq!(wait_for_token(0.0, 0), Duration::from_secs(60));
    }
}
