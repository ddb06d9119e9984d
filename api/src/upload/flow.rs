//! How uploads share one API process: a body must arrive within a deadline and above a
//! minimum rate, and the bytes that all uploads hold in memory together stay under a
//! budget. A slow or stalled sender is cut off, instead of holding a connection and up to
//! the byte limit of memory for as long as it likes; when the budget is spent, new uploads
//! are refused at once instead of buffering.

use crate::error::ApiError;
use clap::Args;
use facefix_shared::ErrorCode;
use facefix_shared::config::{parse_bytes, parse_duration};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The minimum rate is measured after this much time: a connection's first seconds (TCP
/// slow start, a phone waking its radio) say little about its speed.
const RATE_GRACE: Duration = Duration::from_secs(10);
/// Held for an upload of unknown length before its first bytes arrive: about one read.
const FIRST_CLAIM: u64 = 64 * 1024;
/// `Retry-After` of a `busy` refusal: slow uploads give their bytes back within the upload
/// timeout, most much sooner.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Settings of the upload flow.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UploadFlowArgs {
    /// Longest an upload's body may take to arrive, from the end of its headers to its last
    /// byte; a slower one is answered 408 `upload-timeout` and nothing is stored.
    #[arg(long, env = "FACEFIX_UPLOAD_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub upload_timeout: Duration,

    /// Slowest average rate of an upload's body, in bytes per second, counted after its
    /// first 10 s (408 `upload-timeout` below it); 0 leaves only the timeout.
    #[arg(long, env = "FACEFIX_UPLOAD_MIN_RATE", default_value = "16KiB", value_parser = parse_bytes)]
    pub upload_min_rate: u64,

    /// Upload bytes the process holds in memory at once, all uploads together; over it, new
    /// uploads are answered 503 `busy` before their bodies are read.
    #[arg(long, env = "FACEFIX_MAX_BUFFERED_UPLOAD_BYTES", default_value = "256MiB", value_parser = parse_bytes)]
    pub max_buffered_upload_bytes: u64,
}

impl Default for UploadFlowArgs {
    fn default() -> Self {
        Self {
            upload_timeout: Duration::from_secs(60),
            upload_min_rate: 16 * 1024,
            max_buffered_upload_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The upload flow of one process: its settings and its shared byte budget.
#[derive(Debug)]
pub struct UploadFlow {
    pub args: UploadFlowArgs,
    budget: Arc<UploadBudget>,
}

impl UploadFlow {
    pub fn new(args: UploadFlowArgs) -> Self {
        let budget = Arc::new(UploadBudget {
            limit: args.max_buffered_upload_bytes,
            held: AtomicU64::new(0),
        });
        Self { args, budget }
    }

    /// Starts the clock of one upload's body.
    pub fn pace(&self) -> Pace {
        let now = Instant::now();
        Pace {
            started: now,
            deadline: now + self.args.upload_timeout,
            timeout: self.args.upload_timeout,
            min_rate: self.args.upload_min_rate,
            grace: RATE_GRACE,
            received: 0,
        }
    }

    /// Claims memory for one upload: `expected` bytes when its length is declared, a first
    /// read's worth otherwise. Refused at once (`busy`) when the budget cannot hold it.
    pub fn claim(&self, expected: Option<u64>) -> Result<BufferClaim, ApiError> {
        let mut claim = BufferClaim {
            budget: self.budget.clone(),
            held: 0,
        };
        claim.grow_to(expected.unwrap_or(FIRST_CLAIM))?;
        Ok(claim)
    }

    /// Upload bytes held in memory right now, all uploads together.
    pub fn buffered_bytes(&self) -> u64 {
        self.budget.held.load(Ordering::Relaxed)
    }
}

/// Bytes held by all uploads, under a limit.
#[derive(Debug)]
struct UploadBudget {
    limit: u64,
    held: AtomicU64,
}

impl UploadBudget {
    fn try_take(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            });
    }
}

/// The memory one upload holds against the budget, given back when dropped (once the
/// request is answered and its bytes are freed).
#[derive(Debug)]
pub struct BufferClaim {
    budget: Arc<UploadBudget>,
    held: u64,
}

impl BufferClaim {
    /// Holds at least `total` bytes, or fails with `busy` (keeping what it held).
    pub fn grow_to(&mut self, total: u64) -> Result<(), ApiError> {
        let missing = total.saturating_sub(self.held);
        if missing == 0 {
            return Ok(());
        }
        if !self.budget.try_take(missing) {
            return Err(ApiError::new(
                ErrorCode::Busy,
                "the server is receiving as many uploads as it can hold; nothing was stored, try again shortly",
            )
            .retry_after(BUSY_RETRY_AFTER));
        }
        self.held += missing;
        Ok(())
    }
}

impl Drop for BufferClaim {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

/// The clock of one upload's body: every read must come before the deadline, and before
/// the time by which the minimum rate needs the bytes received so far plus one.
#[derive(Debug)]
pub struct Pace {
    started: Instant,
    deadline: Instant,
    timeout: Duration,
    min_rate: u64,
    grace: Duration,
    received: u64,
}

impl Pace {
    /// Waits for the next item of `stream`; fails with `upload-timeout` once the body is late.
    pub async fn next<S>(&mut self, stream: &mut S) -> Result<Option<S::Item>, ApiError>
    where
        S: Stream + Unpin,
    {
        match tokio::time::timeout_at(self.due(), stream.next()).await {
            Ok(item) => Ok(item),
            Err(_) => Err(self.late()),
        }
    }

    /// Counts bytes received.
    pub fn received(&mut self, bytes: usize) {
        self.received += bytes as u64;
    }

    /// When the next bytes must have come.
    fn due(&self) -> Instant {
        if self.min_rate == 0 {
            return self.deadline;
        }
        let for_rate = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        self.deadline.min(self.started + self.grace + for_rate)
    }

    fn late(&self) -> ApiError {
        let message = if Instant::now() >= self.deadline {
            format!(
                "the upload did not arrive within {:?}; nothing was stored",
                self.timeout
            )
        } else {
            format!(
                "the upload arrived slower than {} bytes per second; nothing was stored",
                self.min_rate
            )
        };
        ApiError::new(ErrorCode::UploadTimeout, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::stream;

    fn flow(timeout: Duration, min_rate: u64, budget: u64) -> UploadFlow {
        UploadFlow::new(UploadFlowArgs {
            upload_timeout: timeout,
            upload_min_rate: min_rate,
            max_buffered_upload_bytes: budget,
        })
    }

    #[test]
    fn defaults_match_the_flags() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            flow: UploadFlowArgs,
        }
        let parsed = <Cli as clap::Parser>::try_parse_from(["facefix"]).expect("defaults");
        assert_eq!(parsed.flow, UploadFlowArgs::default());
    }

    #[test]
    fn claims_share_the_budget_and_give_it_back_when_dropped() {
        let flow = flow(Duration::from_secs(60), 0, 100 * 1024);
        let first = flow.claim(Some(60 * 1024)).expect("room for 60 KiB");
        let refused = flow.claim(Some(60 * 1024)).expect_err("120 KiB is over");
        assert_eq!(refused.code, ErrorCode::Busy);
        assert!(refused.retry_after.is_some());
        assert_eq!(flow.buffered_bytes(), 60 * 1024, "a refusal holds nothing");
        drop(first);
        assert_eq!(flow.buffered_bytes(), 0);
        let mut second = flow.claim(None).expect("a first read's worth");
        assert_eq!(flow.buffered_bytes(), FIRST_CLAIM);
        second.grow_to(90 * 1024).expect("grows within the budget");
        assert!(second.grow_to(101 * 1024).is_err(), "not past it");
        assert_eq!(
            flow.buffered_bytes(),
            90 * 1024,
            "a failed growth keeps what it held"
        );
        drop(second);
        assert_eq!(flow.buffered_bytes(), 0);
    }

    /// A pace on the wall clock, with a grace short enough for a test.
    fn pace(timeout: Duration, min_rate: u64, grace: Duration) -> Pace {
        let mut pace = flow(timeout, min_rate, u64::MAX).pace();
        pace.grace = grace;
        pace
    }

    /// Asserts `elapsed` is `expected`, give or take the scheduler.
    fn about(elapsed: Duration, expected: Duration) {
        assert!(
            elapsed >= expected && elapsed < expected + Duration::from_millis(500),
            "{elapsed:?}, expected {expected:?}"
        );
    }

    #[tokio::test]
    async fn a_stalled_body_times_out_at_the_deadline() {
        let mut pace = pace(Duration::from_millis(300), 0, Duration::ZERO);
        let mut body = stream::pending::<Bytes>();
        let started = Instant::now();
        let error = pace.next(&mut body).await.expect_err("never arrives");
        assert_eq!(error.code, ErrorCode::UploadTimeout);
        about(started.elapsed(), Duration::from_millis(300));
        assert!(error.message.contains("within 300ms"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_body_slower_than_the_minimum_rate_is_cut_off_after_the_grace() {
        let mut pace = pace(Duration::from_secs(60), 1000, Duration::from_millis(200));
        // 300 bytes buy 300 ms beyond the grace; then nothing more comes.
        pace.received(300);
        let started = Instant::now();
        let mut body = stream::pending::<Bytes>();
        let error = pace.next(&mut body).await.expect_err("too slow");
        assert_eq!(error.code, ErrorCode::UploadTimeout);
        about(started.elapsed(), Duration::from_millis(500));
        assert!(
            error.message.contains("slower than 1000"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn a_body_that_keeps_up_is_read_to_its_end() {
        let mut pace = pace(Duration::from_secs(60), 1000, Duration::ZERO);
        let mut body = stream::iter([Bytes::from_static(b"abc"), Bytes::from_static(b"de")]);
        let mut read = Vec::new();
        while let Some(chunk) = pace.next(&mut body).await.expect("in time") {
            pace.received(chunk.len());
            read.extend_from_slice(&chunk);
        }
        assert_eq!(read, b"abcde");
    }
}
