//! Admission control: the queue's backlog, refreshed in the background so that checking
//! it costs an atomic load per upload, and the queue metrics that come with it.

use clap::Args;
use facefix_shared::connect::Services;
use facefix_shared::metrics::metrics;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Backpressure settings.
#[derive(Debug, Clone, Args)]
pub struct BacklogArgs {
    /// Jobs waiting in the queue above which uploads are refused with 429.
    #[arg(long, env = "FACEFIX_MAX_BACKLOG", default_value_t = 1000)]
    pub max_backlog: u64,

    /// How often the backlog is read from the queue.
    #[arg(long, env = "FACEFIX_BACKLOG_REFRESH", default_value = "500ms", value_parser = facefix_shared::config::parse_duration)]
    pub backlog_refresh: Duration,

    /// `Retry-After` sent with a 429.
    #[arg(long, env = "FACEFIX_BACKLOG_RETRY_AFTER", default_value = "10s", value_parser = facefix_shared::config::parse_duration)]
    pub backlog_retry_after: Duration,
}

/// The last known backlog.
pub struct BacklogMonitor {
    pub args: BacklogArgs,
    ready: AtomicU64,
    known: AtomicBool,
}

impl BacklogMonitor {
    pub fn new(args: BacklogArgs) -> Self {
        Self {
            args,
            ready: AtomicU64::new(0),
            known: AtomicBool::new(false),
        }
    }

    /// Jobs waiting for a worker, as last read (None before the first successful read).
    pub fn ready(&self) -> Option<u64> {
        self.known
            .load(Ordering::Relaxed)
            .then(|| self.ready.load(Ordering::Relaxed))
    }

    /// Whether an upload would be admitted now, without taking a slot.
    pub fn has_room(&self) -> bool {
        self.ready.load(Ordering::Relaxed) < self.args.max_backlog
    }

    /// Whether a new upload must be refused. Counts jobs accepted since the last refresh
    /// too, so a burst cannot overshoot the bound by a refresh interval's worth.
    pub fn try_admit(&self) -> bool {
        let current = self.ready.fetch_add(1, Ordering::Relaxed);
        if current >= self.args.max_backlog {
            self.ready.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Admits one upload, or `None` when the backlog is full. The slot is given back when
    /// the [`Admission`] is dropped, unless its job was created ([`Admission::keep`]).
    pub fn admit(&self) -> Option<Admission<'_>> {
        // Built only once admitted: a dropped `Admission` gives a slot back.
        if self.try_admit() {
            Some(Admission { monitor: self })
        } else {
            None
        }
    }

    /// Gives back an admission whose job was not created.
    pub fn release(&self) {
        let _ = self
            .ready
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Reads queue counts and the oldest queued job, and updates the metrics.
    pub async fn refresh(&self, services: &Services) {
        match services.queue.stats().await {
            Ok(stats) => {
                self.ready.store(stats.ready, Ordering::Relaxed);
                self.known.store(true, Ordering::Relaxed);
                let m = metrics();
                m.queue_messages
                    .with_label_values(&["ready"])
                    .set(i64::try_from(stats.ready).unwrap_or(i64::MAX));
                m.queue_messages
                    .with_label_values(&["dead"])
                    .set(i64::try_from(stats.dead).unwrap_or(i64::MAX));
            }
            Err(error) => tracing::debug!(%error, "cannot read queue stats"),
        }
        if let Ok(oldest) = services.store.oldest_queued().await {
            let age = oldest
                .map(|created| {
                    (chrono::Utc::now() - created).num_milliseconds().max(0) as f64 / 1000.0
                })
                .unwrap_or(0.0);
            metrics().queue_oldest_job_age_seconds.set(age);
        }
    }

    /// Refreshes until cancelled.
    pub async fn run(self: std::sync::Arc<Self>, services: Services, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.args.backlog_refresh);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => self.refresh(&services).await,
            }
        }
    }
}

/// One upload's slot in the backlog, held from once its body is in until its job is
/// created; dropping it gives the slot back.
#[must_use = "dropping an admission gives its backlog slot back at once"]
pub struct Admission<'a> {
    monitor: &'a BacklogMonitor,
}

impl Admission<'_> {
    /// The job was created: it counts in the backlog until the next refresh reads it there.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.monitor.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(max_backlog: u64) -> BacklogMonitor {
        BacklogMonitor::new(BacklogArgs {
            max_backlog,
            backlog_refresh: Duration::from_millis(500),
            backlog_retry_after: Duration::from_secs(10),
        })
    }

    #[test]
    fn admission_stops_at_the_bound_and_releases() {
        let monitor = monitor(2);
        assert!(monitor.try_admit());
        assert!(monitor.has_room());
        assert!(monitor.try_admit());
        assert!(!monitor.has_room());
        assert!(!monitor.try_admit());
        monitor.release();
        assert!(monitor.has_room());
        assert!(monitor.try_admit());
    }

    #[test]
    fn a_dropped_admission_gives_its_slot_back_and_a_kept_one_does_not() {
        let monitor = monitor(1);
        drop(monitor.admit().expect("room for one"));
        let kept = monitor.admit().expect("the slot came back");
        assert!(monitor.admit().is_none(), "the bound holds");
        kept.keep();
        assert!(monitor.admit().is_none(), "a kept slot stays taken");
    }
}
