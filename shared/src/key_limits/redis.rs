//! The Redis key limits, shared by every API replica on one Redis. Keys, under the job
//! store's prefix (`p`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}key-bucket:{name}` | hash | `tokens`, `at_ms`: the key's token bucket |
//! | `{p}key-jobs:{name}` | set | ids of the jobs the key started, pruned of finished ones |

use super::{KeyLimits, Take};
use crate::job::JobId;
use crate::ports::StoreError;
use crate::store::redis::redis_pool;
use async_trait::async_trait;
use deadpool_redis::Pool;
use redis::AsyncCommands;
use std::sync::LazyLock;
use std::time::Duration;

static TAKE_TOKEN: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("take_token.lua")));

/// Few connections: one short script per upload.
const POOL_SIZE: usize = 4;

/// [`KeyLimits`] in Redis.
pub struct RedisKeyLimits {
    pool: Pool,
    prefix: String,
}

fn unavailable(context: &'static str) -> impl Fn(redis::RedisError) -> StoreError {
    move |e| StoreError::Unavailable(format!("{context}: {e}"))
}

impl RedisKeyLimits {
    /// A pool on `url`; keys under `prefix` (the job store's). Connects on first use.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            pool: redis_pool(url, POOL_SIZE)?,
            prefix: prefix.to_string(),
        })
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis connection: {e}")))
    }

    fn jobs_key(&self, key: &str) -> String {
        format!("{}key-jobs:{key}", self.prefix)
    }
}

#[async_trait]
impl KeyLimits for RedisKeyLimits {
    async fn take(&self, key: &str, per_minute: u32) -> Result<Take, StoreError> {
        let mut conn = self.conn().await?;
        let wait_ms: u64 = TAKE_TOKEN
            .key(format!("{}key-bucket:{key}", self.prefix))
            .arg(per_minute)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable("taking a key's token"))?;
        Ok(match wait_ms {
            0 => Take::Taken,
            ms => Take::Empty {
                retry_after: Duration::from_millis(ms),
            },
        })
    }

    async fn jobs(&self, key: &str) -> Result<Vec<JobId>, StoreError> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn
            .smembers(self.jobs_key(key))
            .await
            .map_err(unavailable("reading a key's jobs"))?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| StoreError::Data(format!("`{id}` is not a job id")))
            })
            .collect()
    }

    async fn add_job(&self, key: &str, id: JobId) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.sadd::<_, _, ()>(self.jobs_key(key), id.to_string())
            .await
            .map_err(unavailable("recording a key's job"))
    }

    async fn forget_jobs(&self, key: &str, ids: &[JobId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut conn = self.conn().await?;
        conn.srem::<_, _, ()>(self.jobs_key(key), ids)
            .await
            .map_err(unavailable("forgetting a key's jobs"))
    }
}
