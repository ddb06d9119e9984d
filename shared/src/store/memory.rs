//! The in-memory job store of embedded mode: records with a TTL, the purge schedule, the
//! queued index and per-job events, behind one lock (every operation is atomic).

use super::PurgeClaim;
use crate::events::EventHub;
use crate::job::{GuardedUpdate, JobEvent, JobId, JobRecord, JobState, Removal};
use crate::ports::{EventStream, JobStore, StoreError, Transition};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    records: HashMap<JobId, (JobRecord, Instant)>,
    purge_due: HashMap<JobId, DateTime<Utc>>,
    purge_order: BTreeSet<(DateTime<Utc>, JobId)>,
    queued: BTreeSet<(DateTime<Utc>, JobId)>,
}

impl State {
    /// The record, unless its TTL has passed (then it is dropped, as Redis would).
    fn live_record(&mut self, id: JobId) -> Option<&mut JobRecord> {
        let expired = self
            .records
            .get(&id)
            .is_some_and(|(_, dies)| *dies <= Instant::now());
        if expired && let Some((record, _)) = self.records.remove(&id) {
            self.queued.remove(&(record.created_at, id));
        }
        self.records.get_mut(&id).map(|(record, _)| record)
    }

    fn set_purge_due(&mut self, id: JobId, due: DateTime<Utc>) {
        if let Some(old) = self.purge_due.insert(id, due) {
            self.purge_order.remove(&(old, id));
        }
        self.purge_order.insert((due, id));
    }
}

/// The embedded job store.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    hub: EventHub,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn schedule_purge(&self, id: JobId, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.lock().set_purge_due(id, expires_at);
        Ok(())
    }

    async fn create(&self, record: &JobRecord, record_ttl: Duration) -> Result<(), StoreError> {
        {
            let mut state = self.lock();
            state
                .records
                .insert(record.id, (record.clone(), Instant::now() + record_ttl));
            if record.state == JobState::Queued {
                state.queued.insert((record.created_at, record.id));
            }
        }
        self.hub.publish(JobEvent::state_of(record));
        Ok(())
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.lock().live_record(id).cloned())
    }

    async fn transition(&self, update: &GuardedUpdate) -> Result<Transition, StoreError> {
        let next = update.next();
        {
            let mut state = self.lock();
            let Some(current) = state.live_record(next.id) else {
                return Ok(Transition::Missing);
            };
            if !update.guard().admits(current) {
                return Ok(Transition::Rejected {
                    current: current.state,
                });
            }
            *current = next.clone();
            if next.state != JobState::Queued {
                state.queued.remove(&(next.created_at, next.id));
            }
        }
        self.hub.publish(update.event());
        Ok(Transition::Applied)
    }

    async fn publish(&self, event: &JobEvent) -> Result<(), StoreError> {
        self.hub.publish(event.clone());
        Ok(())
    }

    async fn subscribe(&self, id: JobId) -> Result<EventStream, StoreError> {
        Ok(self.hub.subscribe(id))
    }

    async fn delete_record(&self, removal: Removal) -> Result<(), StoreError> {
        {
            let mut state = self.lock();
            if let Some((record, _)) = state.records.remove(&removal.id) {
                state.queued.remove(&(record.created_at, removal.id));
            }
        }
        self.hub.publish(removal.event());
        Ok(())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        let claim = PurgeClaim::new(now, lease, limit);
        let mut state = self.lock();
        let due: Vec<JobId> = state
            .purge_order
            .iter()
            .take_while(|(at, _)| *at <= claim.due_by)
            .take(claim.limit)
            .map(|(_, id)| *id)
            .collect();
        for id in &due {
            state.set_purge_due(*id, claim.lease_end);
        }
        Ok(due)
    }

    async fn unschedule_purge(&self, id: JobId) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(due) = state.purge_due.remove(&id) {
            state.purge_order.remove(&(due, id));
        }
        Ok(())
    }

    async fn is_scheduled(&self, id: JobId) -> Result<bool, StoreError> {
        Ok(self.lock().purge_due.contains_key(&id))
    }

    async fn oldest_purge_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.lock().purge_order.first().map(|(at, _)| *at))
    }

    async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.lock().queued.first().map(|(at, _)| *at))
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
