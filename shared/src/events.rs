//! In-process fan-out of job events to subscribers, keyed by job id.
//!
//! The memory store publishes into it directly; the Redis store feeds it from one
//! pattern subscription per process, so a thousand SSE clients cost one Redis connection.

use crate::job::{JobEvent, JobId};
use crate::ports::EventStream;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events buffered per job for a slow subscriber; a job produces about ten in its life.
const PER_JOB_BUFFER: usize = 64;

#[derive(Clone, Default)]
pub struct EventHub {
    channels: Arc<Mutex<HashMap<JobId, broadcast::Sender<JobEvent>>>>,
}

impl EventHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers `event` to the current subscribers of its job, if any.
    pub fn publish(&self, event: JobEvent) {
        let id = event.job_id();
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = channels.get(&id) {
            // An error only means nobody listens any more: forget the channel.
            if sender.send(event).is_err() {
                channels.remove(&id);
            }
        }
    }

    /// Events of `id` from now on. The stream ends after a final event.
    pub fn subscribe(&self, id: JobId) -> EventStream {
        let receiver = {
            let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            channels
                .entry(id)
                .or_insert_with(|| broadcast::channel(PER_JOB_BUFFER).0)
                .subscribe()
        };
        let hub = self.clone();
        futures_util::stream::unfold(
            (receiver, false, hub),
            move |(mut receiver, done, hub)| async move {
                if done {
                    hub.forget_if_unused(id);
                    return None;
                }
                loop {
                    match receiver.recv().await {
                        Ok(event) => {
                            let last = event.is_final();
                            return Some((event, (receiver, last, hub)));
                        }
                        // A lagging subscriber skips ahead; SSE re-reads the record on its own timer.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
        .boxed()
    }

    fn forget_if_unused(&self, id: JobId) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if channels
            .get(&id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            channels.remove(&id);
        }
    }

    /// Number of jobs with live subscribers (for tests and metrics).
    pub fn active_channels(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobState, Stage};

    #[tokio::test]
    async fn subscribers_get_only_their_jobs_events_and_stop_after_a_final_one() {
        let hub = EventHub::new();
        let a = JobId::new_random();
        let b = JobId::new_random();
        let mut stream = hub.subscribe(a);
        hub.publish(JobEvent::Stage {
            job_id: b,
            stage: Stage::Detect,
        });
        hub.publish(JobEvent::Stage {
            job_id: a,
            stage: Stage::Detect,
        });
        hub.publish(JobEvent::Gone {
            job_id: a,
            state: JobState::Deleted,
        });
        assert_eq!(
            stream.next().await,
            Some(JobEvent::Stage {
                job_id: a,
                stage: Stage::Detect
            })
        );
        assert_eq!(
            stream.next().await,
            Some(JobEvent::Gone {
                job_id: a,
                state: JobState::Deleted
            })
        );
        assert_eq!(stream.next().await, None);
        assert_eq!(hub.active_channels(), 0);
    }
}
