//! The Redis job store (deadpool-redis). Keys, all under `store_prefix` (`p`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}job:{id}` | hash | `state`, `record` (JSON of `JobRecord`); TTL = record TTL |
//! | `{p}purge` | sorted set | job ids scored by purge due time (unix seconds) |
//! | `{p}queued` | sorted set | queued job ids scored by creation time (unix seconds) |
//! | `{p}events:{id}` | channel | JSON `JobEvent`s of one job |
//!
//! Multi-key scripts touch keys of several jobs: this adapter targets a single Redis (or a
//! primary with replicas), not Redis Cluster.

mod events;

use super::PurgeClaim;
use crate::config::StoreArgs;
use crate::events::EventHub;
use crate::job::{GuardedUpdate, JobEvent, JobId, JobRecord, JobState, Removal};
use crate::ports::{EventStream, JobStore, StoreError, Transition};
use crate::redact::redact_url;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use deadpool_redis::{Manager, Pool, Runtime};
use redis::AsyncCommands;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Connecting, and waiting for a pooled connection, may take this long before the store
/// counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A command without an answer within this time fails (and its connection is dropped).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

static CREATE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("redis/create.lua")));
static TRANSITION: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("redis/transition.lua")));
static CLAIM_DUE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("redis/claim_due.lua")));
static OLDEST_QUEUED: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("redis/oldest_queued.lua")));

struct Keys {
    prefix: String,
}

impl Keys {
    fn job_prefix(&self) -> String {
        format!("{}job:", self.prefix)
    }
    fn job(&self, id: JobId) -> String {
        format!("{}job:{id}", self.prefix)
    }
    fn purge(&self) -> String {
        format!("{}purge", self.prefix)
    }
    fn queued(&self) -> String {
        format!("{}queued", self.prefix)
    }
    fn events(&self, id: JobId) -> String {
        format!("{}events:{id}", self.prefix)
    }
}

struct Inner {
    pool: Pool,
    keys: Keys,
    hub: EventHub,
    /// Stops the subscription task when the last clone of the store is dropped.
    _subscription: DropGuard,
}

/// The Redis adapter of [`JobStore`]. Cheap to clone; clones share the pool and the one
/// event subscription.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

fn unavailable(context: &str) -> impl Fn(redis::RedisError) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("{context}: {e}"))
}

/// Unix seconds with millisecond precision, the score of both sorted sets.
fn score(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn from_score(score: f64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt((score * 1000.0).round() as i64)
        .single()
        .ok_or_else(|| StoreError::Data(format!("score {score} is not a time")))
}

fn event_json(event: &JobEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::Data(format!("encoding event: {e}")))
}

/// A pool of connections to `url` with this adapter's timeouts: the job store's, and
/// other Redis users' (the API keys' shared limits) that must fail the same way.
pub fn redis_pool(url: &str, size: usize) -> Result<Pool, StoreError> {
    let shown = redact_url(url);
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let manager = Manager::new_with_config(url, config)
        .map_err(|e| StoreError::Unavailable(format!("invalid Redis URL {shown}: {e}")))?;
    Pool::builder(manager)
        .max_size(size.max(1))
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(RESPONSE_TIMEOUT))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Unavailable(format!("Redis pool for {shown}: {e}")))
}

impl RedisStore {
    /// Connects to `url` (checked with a PING) and starts the event subscription; fails
    /// when Redis cannot be reached now. Later outages surface as `Unavailable` errors and
    /// the subscription comes back by itself.
    pub async fn connect(url: &str, args: &StoreArgs) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid Redis URL {shown}: {e}")))?;
        let pool = redis_pool(url, args.store_pool_size)?;

        let hub = EventHub::new();
        let stop = CancellationToken::new();
        let subscriber = events::Subscriber {
            client,
            pattern: format!("{}events:*", events::escape_glob(&args.store_prefix)),
            hub: hub.clone(),
            stop: stop.clone(),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscriber.run(ready_tx));
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                keys: Keys {
                    prefix: args.store_prefix.clone(),
                },
                hub,
                _subscription: stop.drop_guard(),
            }),
        };
        store.check().await?;
        // Events published before the subscription is in place would be lost to every
        // subscriber: do not hand out a store that cannot deliver them yet.
        match ready_rx.await {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("Redis {shown}: {e}"))),
            Err(_) => Err(StoreError::Unavailable(
                "the event subscription task ended".into(),
            )),
        }
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis connection: {e}")))
    }

    fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The keys and arguments both scripts that write a record start with: the job hash,
    /// the queued index and the events channel; the new state, the record, its event, the
    /// id and the record's queued index score.
    fn record_write<'s>(
        &self,
        script: &'s redis::Script,
        record: &JobRecord,
        event: &JobEvent,
    ) -> Result<redis::ScriptInvocation<'s>, StoreError> {
        let json = serde_json::to_string(record)
            .map_err(|e| StoreError::Data(format!("encoding record: {e}")))?;
        let mut invocation = script.key(self.keys().job(record.id));
        invocation
            .key(self.keys().queued())
            .key(self.keys().events(record.id))
            .arg(record.state.as_str())
            .arg(json)
            .arg(event_json(event)?)
            .arg(record.id.to_string())
            .arg(score(record.created_at));
        Ok(invocation)
    }

    /// Runs `create.lua`; `keep_existing` makes it write only when no record exists.
    async fn write_record(
        &self,
        record: &JobRecord,
        record_ttl: Duration,
        keep_existing: bool,
    ) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(record_ttl.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut invocation = self.record_write(&CREATE, record, &JobEvent::state_of(record))?;
        invocation
            .arg(ttl_ms)
            .arg(if keep_existing { "1" } else { "0" });
        let mut conn = self.conn().await?;
        let written: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable("writing job record"))?;
        Ok(written == 1)
    }
}

#[async_trait]
impl JobStore for RedisStore {
    async fn schedule_purge(&self, id: JobId, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.zadd::<_, _, _, ()>(self.keys().purge(), id.to_string(), score(expires_at))
            .await
            .map_err(unavailable("scheduling purge"))
    }

    async fn create(&self, record: &JobRecord, record_ttl: Duration) -> Result<(), StoreError> {
        self.write_record(record, record_ttl, false)
            .await
            .map(|_| ())
    }

    async fn restore(&self, record: &JobRecord, record_ttl: Duration) -> Result<bool, StoreError> {
        self.write_record(record, record_ttl, true).await
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let json: Option<String> = conn
            .hget(self.keys().job(id), "record")
            .await
            .map_err(unavailable("reading job record"))?;
        json.map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Data(format!("job record {id}: {e}")))
        })
        .transpose()
    }

    async fn transition(&self, update: &GuardedUpdate) -> Result<Transition, StoreError> {
        let next = update.next();
        let mut invocation = self.record_write(&TRANSITION, next, &update.event())?;
        // The script checks the guard as `Guard::admits` does: the stored job is at this
        // attempt, in one of these states.
        invocation.arg(update.guard().attempt());
        for state in update.guard().states() {
            invocation.arg(state.as_str());
        }
        let mut conn = self.conn().await?;
        let reply: Vec<String> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable("transition"))?;
        match reply.as_slice() {
            [outcome] if outcome == "applied" => Ok(Transition::Applied),
            [outcome] if outcome == "missing" => Ok(Transition::Missing),
            [outcome, state] if outcome == "rejected" => JobState::parse(state)
                .map(|current| Transition::Rejected { current })
                .ok_or_else(|| {
                    StoreError::Data(format!("job {} has unknown state {state:?}", next.id))
                }),
            other => Err(StoreError::Data(format!(
                "unexpected transition reply {other:?}"
            ))),
        }
    }

    async fn publish(&self, event: &JobEvent) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.publish::<_, _, ()>(self.keys().events(event.job_id()), event_json(event)?)
            .await
            .map_err(unavailable("publishing event"))
    }

    async fn subscribe(&self, id: JobId) -> Result<EventStream, StoreError> {
        Ok(self.inner.hub.subscribe(id))
    }

    async fn delete_record(&self, removal: Removal) -> Result<(), StoreError> {
        let id = removal.id;
        let event = event_json(&removal.event())?;
        let mut conn = self.conn().await?;
        // The purge entry stays: the sweeper removes it once the objects are gone too.
        redis::pipe()
            .atomic()
            .del(self.keys().job(id))
            .ignore()
            .zrem(self.keys().queued(), id.to_string())
            .ignore()
            .publish(self.keys().events(id), event)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable("deleting job record"))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        let claim = PurgeClaim::new(now, lease, limit);
        if claim.takes_nothing() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let members: Vec<String> = CLAIM_DUE
            .key(self.keys().purge())
            .arg(score(claim.due_by))
            .arg(score(claim.lease_end))
            .arg(claim.limit)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable("claiming due purges"))?;
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            match member.parse::<JobId>() {
                Ok(id) => ids.push(id),
                Err(_) => {
                    // Not ours (written by hand or another tool): drop it, or it would be
                    // claimed again after every lease.
                    tracing::warn!(member = %member, "removing a non-job entry from the purge schedule");
                    let _: Result<(), _> = conn.zrem(self.keys().purge(), &member).await;
                }
            }
        }
        Ok(ids)
    }

    async fn unschedule_purge(&self, id: JobId) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.zrem::<_, _, ()>(self.keys().purge(), id.to_string())
            .await
            .map_err(unavailable("unscheduling purge"))
    }

    async fn is_scheduled(&self, id: JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let due: Option<f64> = conn
            .zscore(self.keys().purge(), id.to_string())
            .await
            .map_err(unavailable("reading purge schedule"))?;
        Ok(due.is_some())
    }

    async fn oldest_purge_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn().await?;
        let first: Vec<(String, f64)> = conn
            .zrange_withscores(self.keys().purge(), 0, 0)
            .await
            .map_err(unavailable("reading purge schedule"))?;
        first.first().map(|(_, due)| from_score(*due)).transpose()
    }

    async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn().await?;
        let oldest: Option<f64> = OLDEST_QUEUED
            .key(self.keys().queued())
            .arg(self.keys().job_prefix())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable("reading queued index"))?;
        oldest.map(from_score).transpose()
    }

    async fn check(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable("PING"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_to_the_millisecond() {
        let at = Utc
            .timestamp_millis_opt(1_764_000_123_456)
            .single()
            .expect("time");
        assert_eq!(from_score(score(at)).expect("time"), at);
    }
}
