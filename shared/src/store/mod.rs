//! `JobStore` adapters: Redis (deadpool-redis) and the in-memory store of embedded mode.

pub mod memory;
pub mod redis;

pub use self::redis::RedisStore;
pub use memory::MemoryStore;

use chrono::{DateTime, Utc};
use std::time::Duration;

/// One `claim_due` call, worked out once for both adapters: which purge entries it takes
/// and the due time each taken entry is pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PurgeClaim {
    /// Entries due at or before this time are taken, oldest first.
    pub due_by: DateTime<Utc>,
    /// Taken entries come due again here, should the claimer die before unscheduling them.
    pub lease_end: DateTime<Utc>,
    /// At most this many entries are taken.
    pub limit: usize,
}

impl PurgeClaim {
    pub fn new(now: DateTime<Utc>, lease: Duration, limit: usize) -> Self {
        // A lease too long to represent never runs out, as the caller meant.
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Self {
            due_by: now,
            lease_end: now
                .checked_add_signed(lease)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            limit,
        }
    }

    /// Whether the claim can take nothing (so the adapter need not ask).
    pub fn takes_nothing(&self) -> bool {
        self.limit == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_runs_from_now_and_saturates() {
        let now = Utc::now();
        let claim = PurgeClaim::new(now, Duration::from_secs(30), 5);
        assert_eq!(claim.due_by, now);
        assert_eq!(claim.lease_end, now + chrono::Duration::seconds(30));
        assert!(!claim.takes_nothing());
        let forever = PurgeClaim::new(now, Duration::MAX, 0);
        assert_eq!(forever.lease_end, DateTime::<Utc>::MAX_UTC);
        assert!(forever.takes_nothing());
    }
}
