//! The in-process key limits: one API process, no replicas to share with.

use super::{KeyLimits, Take, wait_for_token};
use crate::job::JobId;
use crate::ports::StoreError;
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Books {
    buckets: HashMap<String, Bucket>,
    jobs: HashMap<String, BTreeSet<JobId>>,
}

/// [`KeyLimits`] in memory.
#[derive(Default)]
pub struct MemoryKeyLimits {
    books: Mutex<Books>,
}

impl MemoryKeyLimits {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`KeyLimits::take`] at `now` (tests move the clock).
    fn take_at(&self, key: &str, per_minute: u32, now: Instant) -> Take {
        let capacity = f64::from(per_minute);
        let mut books = self.books();
        let bucket = books.buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * capacity / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Take::Taken;
        }
        Take::Empty {
            retry_after: wait_for_token(bucket.tokens, per_minute),
        }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl KeyLimits for MemoryKeyLimits {
    async fn take(&self, key: &str, per_minute: u32) -> Result<Take, StoreError> {
        Ok(self.take_at(key, per_minute, Instant::now()))
    }

    async fn jobs(&self, key: &str) -> Result<Vec<JobId>, StoreError> {
        Ok(self
            .books()
            .jobs
            .get(key)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default())
    }

    async fn add_job(&self, key: &str, id: JobId) -> Result<(), StoreError> {
        self.books()
            .jobs
            .entry(key.to_string())
            .or_default()
            .insert(id);
        Ok(())
    }

    async fn forget_jobs(&self, key: &str, ids: &[JobId]) -> Result<(), StoreError> {
        if let Some(jobs) = self.books().jobs.get_mut(key) {
            for id in ids {
                jobs.remove(id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_its_rate_and_refills_with_time() {
        let limits = MemoryKeyLimits::new();
        let start = Instant::now();
        assert_eq!(limits.take_at("a", 2, start), Take::Taken);
        assert_eq!(limits.take_at("a", 2, start), Take::Taken);
        let Take::Empty { retry_after } = limits.take_at("a", 2, start) else {
            panic!("a third token within a minute at 2 a minute");
        };
        assert_eq!(retry_after.as_secs(), 30);
        // Another key has its own bucket.
        assert_eq!(limits.take_at("b", 2, start), Take::Taken);
        let later = start + std::time::Duration::from_secs(30);
        assert_eq!(limits.take_at("a", 2, later), Take::Taken);
        assert!(matches!(limits.take_at("a", 2, later), Take::Empty { .. }));
    }

    #[tokio::test]
    async fn jobs_are_kept_per_key_until_forgotten() {
        let limits = MemoryKeyLimits::new();
        let (one, two) = (JobId::new_random(), JobId::new_random());
        limits.add_job("a", one).await.expect("add");
        limits.add_job("a", two).await.expect("add");
        assert_eq!(limits.jobs("a").await.expect("jobs").len(), 2);
        assert!(limits.jobs("b").await.expect("jobs").is_empty());
        limits.forget_jobs("a", &[one]).await.expect("forget");
        assert_eq!(limits.jobs("a").await.expect("jobs"), vec![two]);
    }
}
