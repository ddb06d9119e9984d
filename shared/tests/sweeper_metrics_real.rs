//! The sweeper's health metrics against a real Redis that becomes unreachable: a sweep that
//! cannot read the purge schedule is counted (`facefix_sweeper_schedule_errors_total`) and
//! records no success (`facefix_sweeper_last_success_timestamp_seconds`), where the purge
//! lag alone would just freeze. Redis is reached through a relay that the test cuts, so the
//! shared Redis itself is never touched. Run with the services of `deploy/dev-services.sh`
//! and `FACEFIX_TEST_SERVICES=1`; without it the test says it was skipped and passes. It
//! is alone in its file because the metrics are process-wide.

mod common;

use common::*;
use facefix_shared::blob::DirBlobStore;
use facefix_shared::config::RetentionArgs;
use facefix_shared::metrics::metrics;
use facefix_shared::retention::Sweeper;
use facefix_shared::store::RedisStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A TCP relay to `target` that can be cut: every relayed connection is dropped and new
/// ones are refused, as when the store goes away.
struct Relay {
    address: String,
    cut: CancellationToken,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let address = listener.local_addr().expect("relay address").to_string();
        let cut = CancellationToken::new();
        let token = cut.clone();
        tokio::spawn(async move {
            loop {
                let inbound = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((inbound, _)) => inbound,
                        Err(_) => continue,
                    },
                };
                let (token, target) = (token.clone(), target.clone());
                tokio::spawn(async move {
                    let (mut inbound, Ok(mut outbound)) =
                        (inbound, TcpStream::connect(&target).await)
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Relay { address, cut }
    }
}

/// The `host:port` of a `redis://[user@]host:port/db` URL.
fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

fn now_seconds() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_that_cannot_reach_the_store_is_counted_and_records_no_success() {
    if !services_enabled("sweeper metrics") {
        return;
    }
    let url = redis_url();
    let relay = Relay::start(host_port(&url).to_string()).await;
    let relayed_url = url.replacen(host_port(&url), &relay.address, 1);
    let prefix = format!("facefix-test-{}:", unique());
    let mut args = store_args(&prefix);
    args.store_url = Some(relayed_url.clone());
    let store = RedisStore::connect(&relayed_url, &args)
        .await
        .expect("connecting to Redis through the relay (is deploy/dev-services.sh running?)");
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = DirBlobStore::open(dir.path()).await.expect("dir store");
    let retention = RetentionArgs {
        retention: Duration::from_secs(900),
        sweep_interval: Duration::from_secs(1),
        purge_lease: Duration::from_secs(30),
        reconcile_interval: Duration::from_secs(30),
    };
    let sweeper = Sweeper::new(Arc::new(store), Arc::new(blobs), retention);
    let m = metrics();

    let before = now_seconds();
    sweeper
        .sweep_once()
        .await
        .expect("a sweep with Redis reachable");
    let success = m.sweeper_last_success_timestamp_seconds.get();
    assert!(
        success >= before - 1.0 && success <= now_seconds() + 1.0,
        "a successful sweep records its time: {success} (now {before})"
    );
    let errors = m.sweeper_schedule_errors_total.get();

    relay.cut.cancel();
    let failed = tokio::time::timeout(Duration::from_secs(60), sweeper.sweep_once())
        .await
        .expect("a sweep against an unreachable store ends");
    assert!(failed.is_err(), "the sweep must fail: {failed:?}");
    assert_eq!(
        m.sweeper_schedule_errors_total.get(),
        errors + 1,
        "one count per sweep that could not read the schedule"
    );
    assert_eq!(
        m.sweeper_last_success_timestamp_seconds.get(),
        success,
        "a failed sweep records no success"
    );
    delete_redis_keys(&prefix).await;
}
