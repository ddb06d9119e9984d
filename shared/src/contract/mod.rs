//! Contract test suites, run against every adapter of each port.
//!
//! Each property is a public async function taking a harness that makes fresh, isolated
//! instances of the port (for a real service: a unique queue prefix, key prefix or object
//! prefix). The macros [`queue_contract_tests!`](crate::queue_contract_tests),
//! [`store_contract_tests!`](crate::store_contract_tests) and
//! [`blob_contract_tests!`](crate::blob_contract_tests) turn every property into one
//! `#[tokio::test]`, so a test file runs the whole suite against its adapter with one line.
//! The functions panic (assert) on a violation. They are test code, built only with the
//! `testing` feature, and live in the library so every adapter's tests share them.

pub mod blob;
pub mod queue;
pub mod store;

use std::future::Future;
use std::time::Duration;

pub use blob::BlobHarness;
pub use queue::QueueHarness;
pub use store::{StoreHarness, StorePair};

/// How long a property waits for something that must happen.
pub const PATIENCE: Duration = Duration::from_secs(15);
/// How long a property waits to be confident that something does not happen.
pub const QUIET: Duration = Duration::from_millis(700);

/// Polls `check` until it returns true, panicking after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Awaits `future`, panicking with `what` after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($run:path, $module:ident, [$($name:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $run(stringify!($name), $crate::contract::$module::$name).await;
            }
        )*
    };
}

/// One test per queue property. `$run` is an async fn
/// `(name: &str, property: impl FnOnce(Arc<dyn QueueHarness>) -> impl Future<Output = ()>)`
/// that builds the harness, runs the property and cleans up.
#[macro_export]
macro_rules! queue_contract_tests {
    ($run:path) => {
        $crate::__contract_tests!(
            $run,
            queue,
            [
                round_trip_carries_message_and_trace_headers,
                prefetch_bounds_unsettled_deliveries,
                ack_removes_the_message,
                requeue_redelivers_with_a_higher_count,
                past_the_delivery_limit_messages_are_dead_lettered,
                dead_letter_moves_the_message_to_the_dead_letter_queue,
                a_delivery_dropped_unsettled_is_redelivered,
                dropping_the_consumer_redelivers_what_it_held,
                deliveries_can_be_settled_after_the_consumer_is_dropped,
                stats_count_ready_and_dead_messages,
                check_and_delivery_limit,
            ]
        );
    };
}

/// One test per job-store property (see [`queue_contract_tests!`](crate::queue_contract_tests)).
#[macro_export]
macro_rules! store_contract_tests {
    ($run:path) => {
        $crate::__contract_tests!(
            $run,
            store,
            [
                create_then_get_returns_the_record,
                record_ttl_is_applied,
                transition_is_guarded,
                transition_keeps_the_record_ttl,
                events_arrive_in_order_and_the_stream_ends_after_a_final_one,
                delete_record_is_idempotent_and_keeps_the_purge_entry,
                concurrent_claimers_never_get_the_same_id,
                an_expired_lease_makes_the_id_claimable_again,
                unschedule_removes_the_purge_entry,
                oldest_queued_follows_the_queued_jobs,
                oldest_purge_due_follows_the_schedule,
            ]
        );
    };
}

/// One test per blob-store property (see [`queue_contract_tests!`](crate::queue_contract_tests)).
#[macro_export]
macro_rules! blob_contract_tests {
    ($run:path) => {
        $crate::__contract_tests!(
            $run,
            blob,
            [
                put_then_get_returns_bytes_and_content_type,
                large_objects_stream_in_chunks,
                put_replaces_an_object,
                delete_is_idempotent,
                missing_objects_are_none,
                objects_of_different_jobs_are_separate,
                check_succeeds,
            ]
        );
    };
}
