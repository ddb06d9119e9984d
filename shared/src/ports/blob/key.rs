//! Object names. Every object of a job lives in one folder,
//! `jobs/{shard}/{expiry}/{id}/`, named so that the object store itself says what is due:
//!
//! - `shard` is the first hex digit of the id. It spreads writes over 16 prefixes (S3
//!   sustains about 3 500 writes/s per prefix; names that start with a time would all
//!   land on one).
//! - `expiry` is the second the job's retention runs out, rounded up, as
//!   `YYYYMMDDTHHMMSSZ`: within a shard, names sort by the time they come due, so a
//!   listing from the start of a shard can stop at the first name that is not due yet.
//!
//! The objects are `input` and `result-{attempt}` (each attempt writes its own result, so
//! an attempt that lost the job can never overwrite or delete the owner's).
//!
//! Versions before this layout wrote `jobs/{id}/input` and `jobs/{id}/result`; those names
//! say nothing about expiry and are found by age instead (see `retention::reconcile`).

use crate::job::{JobId, JobRecord};
use chrono::{DateTime, NaiveDateTime, Utc};

/// Where every job's objects live, relative to the store's root or prefix.
pub const JOBS_PREFIX: &str = "jobs/";
/// The expiry in names: UTC, to the second, sortable as text.
const EXPIRY_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// The latest expiry a name can hold (a fixed-width year keeps the names sortable).
const LATEST_EXPIRY_SECS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
const SHARDS: &str = "0123456789abcdef";
const INPUT: &str = "input";
const RESULT: &str = "result";

/// The name of one object in the store, relative to the store's root or prefix. Built from
/// a job (never from anything a user supplied) or read back from a listing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

/// What an object's name says about when it must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExpiry {
    /// A job object of the current layout, due at this time.
    DueAt(DateTime<Utc>),
    /// A job object of the layout before expiry-ordered names: due by age.
    Legacy,
    /// Not a job object.
    Unknown,
}

impl BlobKey {
    /// A name as an object store listed it.
    pub fn listed(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The input of a job stored before expiry-ordered names: `jobs/{id}/input`.
    pub fn legacy_input(id: JobId) -> Self {
        Self(format!("{JOBS_PREFIX}{id}/{INPUT}"))
    }

    /// The result of a job stored before expiry-ordered names: `jobs/{id}/result`.
    pub fn legacy_result(id: JobId) -> Self {
        Self(format!("{JOBS_PREFIX}{id}/{RESULT}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When the object must be gone, as far as its name tells.
    pub fn expiry(&self) -> KeyExpiry {
        let parts: Vec<&str> = self.0.split('/').collect();
        match parts.as_slice() {
            ["jobs", shard, expiry, id, object] if is_object(object) => {
                match (parse_expiry(expiry), id.parse::<JobId>()) {
                    (Some(due), Ok(id)) if *shard == shard_of(id) => KeyExpiry::DueAt(due),
                    _ => KeyExpiry::Unknown,
                }
            }
            ["jobs", id, object]
                if id.parse::<JobId>().is_ok() && (*object == INPUT || *object == RESULT) =>
            {
                KeyExpiry::Legacy
            }
            _ => KeyExpiry::Unknown,
        }
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_object(name: &str) -> bool {
    name == INPUT
        || name
            .strip_prefix(RESULT)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|attempt| attempt.parse::<u32>().is_ok())
}

fn parse_expiry(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, EXPIRY_FORMAT)
        .ok()
        .map(|naive| naive.and_utc())
}

fn shard_of(id: JobId) -> &'static str {
    let first = id.as_uuid().as_bytes()[0] >> 4;
    let index = usize::from(first);
    &SHARDS[index..=index]
}

/// `at` rounded up to the second and clamped to what a name can hold: an object is never
/// listed as due before its job expires.
fn expiry_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let rounded_up = at
        .timestamp()
        .saturating_add(i64::from(at.timestamp_subsec_nanos() > 0));
    DateTime::from_timestamp(rounded_up.min(LATEST_EXPIRY_SECS), 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// The objects of one job: where they live, derived from its id and expiry alone, so the
/// record, the queue message and the sweeper all find the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobObjects {
    id: JobId,
    due: DateTime<Utc>,
}

impl JobObjects {
    pub fn new(id: JobId, expires_at: DateTime<Utc>) -> Self {
        Self {
            id,
            due: expiry_second(expires_at),
        }
    }

    pub fn of(record: &JobRecord) -> Self {
        Self::new(record.id, record.expires_at)
    }

    pub fn id(&self) -> JobId {
        self.id
    }

    /// The folder holding every object of the job (a listing prefix).
    pub fn folder(&self) -> String {
        format!(
            "{JOBS_PREFIX}{}/{}/{}/",
            shard_of(self.id),
            self.due.format(EXPIRY_FORMAT),
            self.id
        )
    }

    /// The uploaded image.
    pub fn input(&self) -> BlobKey {
        BlobKey(format!("{}{INPUT}", self.folder()))
    }

    /// The image attempt `attempt` produced.
    pub fn result(&self, attempt: u32) -> BlobKey {
        BlobKey(format!("{}{RESULT}-{attempt}", self.folder()))
    }
}

/// The listing prefix of each of the 16 shards, `jobs/0/` … `jobs/f/`.
pub fn shard_prefixes() -> impl Iterator<Item = String> {
    SHARDS.chars().map(|shard| format!("{JOBS_PREFIX}{shard}/"))
}

/// Where to list the legacy names whose id starts with each hex digit: `(prefix,
/// start_after)`. A legacy name `jobs/{id}/…` shares its first characters with the shard
/// folder `jobs/{id's first digit}/`, but sorts after every name in it (a hex digit sorts
/// after `/`, and `~` after every character of a current name), so listing from there skips
/// the current layout entirely.
pub fn legacy_listings() -> impl Iterator<Item = (String, String)> {
    SHARDS.chars().map(|shard| {
        (
            format!("{JOBS_PREFIX}{shard}"),
            format!("{JOBS_PREFIX}{shard}/~"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, nanos).single().expect("a time")
    }

    #[test]
    fn names_carry_the_shard_and_the_expiry_rounded_up() {
        let id: JobId = "a1b2c3d4-0000-4000-8000-000000000001".parse().expect("id");
        let objects = JobObjects::new(id, at(1_764_000_000, 1));
        assert_eq!(
            objects.input().as_str(),
            format!("jobs/a/20251124T160001Z/{id}/input")
        );
        assert_eq!(
            objects.result(3).as_str(),
            format!("jobs/a/20251124T160001Z/{id}/result-3")
        );
        assert_eq!(objects.folder(), format!("jobs/a/20251124T160001Z/{id}/"));
        assert_eq!(
            JobObjects::new(id, at(1_764_000_000, 0)).input(),
            BlobKey::listed(format!("jobs/a/20251124T160000Z/{id}/input")),
            "a whole second stays as it is"
        );
    }

    #[test]
    fn names_read_back_their_expiry() {
        let id = JobId::new_random();
        let objects = JobObjects::new(id, at(1_764_000_000, 500));
        assert_eq!(
            objects.result(1).expiry(),
            KeyExpiry::DueAt(at(1_764_000_001, 0))
        );
        assert_eq!(
            objects.input().expiry(),
            KeyExpiry::DueAt(at(1_764_000_001, 0))
        );
        assert_eq!(BlobKey::legacy_input(id).expiry(), KeyExpiry::Legacy);
        assert_eq!(BlobKey::legacy_result(id).expiry(), KeyExpiry::Legacy);
        for foreign in [
            "jobs/a/20251124T160001Z/not-an-id/input".to_string(),
            format!("jobs/0/20251124T160001Z/{id}/thumbnail"),
            format!("jobs/a/2025-11-24/{id}/input"),
            format!("jobs/{id}/notes"),
            "backups/x".to_string(),
        ] {
            assert_eq!(
                BlobKey::listed(foreign.clone()).expiry(),
                KeyExpiry::Unknown,
                "{foreign}"
            );
        }
        let wrong_shard = if objects.folder().starts_with("jobs/0/") {
            "1"
        } else {
            "0"
        };
        let moved = objects.input().as_str().replacen(
            &objects.folder()[..7],
            &format!("jobs/{wrong_shard}/"),
            1,
        );
        assert_eq!(BlobKey::listed(moved).expiry(), KeyExpiry::Unknown);
    }

    #[test]
    fn names_sort_by_expiry_within_a_shard() {
        let id: JobId = "f0000000-0000-4000-8000-000000000000".parse().expect("id");
        let other: JobId = "ffffffff-ffff-4fff-bfff-ffffffffffff".parse().expect("id");
        let early = JobObjects::new(other, at(1_764_000_000, 0)).result(9);
        let late = JobObjects::new(id, at(1_764_000_001, 0)).input();
        assert!(early < late);
    }

    #[test]
    fn an_expiry_beyond_year_9999_is_clamped() {
        let objects = JobObjects::new(JobId::new_random(), DateTime::<Utc>::MAX_UTC);
        assert!(objects.folder().contains("/99991231T235959Z/"));
        assert_eq!(
            objects.input().expiry(),
            KeyExpiry::DueAt(at(LATEST_EXPIRY_SECS, 0))
        );
    }

    #[test]
    fn legacy_listings_start_after_every_current_name_of_their_shard() {
        let listings: Vec<(String, String)> = legacy_listings().collect();
        assert_eq!(listings.len(), 16);
        for _ in 0..64 {
            let id = JobId::new_random();
            let current = JobObjects::new(id, DateTime::<Utc>::MAX_UTC).result(u32::MAX);
            let legacy = BlobKey::legacy_input(id);
            let (prefix, after) = listings
                .iter()
                .find(|(prefix, _)| legacy.as_str().starts_with(prefix.as_str()))
                .expect("a listing for every id");
            assert!(current.as_str().starts_with(prefix.as_str()));
            assert!(current.as_str() < after.as_str(), "{current} is skipped");
            assert!(legacy.as_str() > after.as_str(), "{legacy} is listed");
        }
        assert_eq!(shard_prefixes().count(), 16);
    }
}
