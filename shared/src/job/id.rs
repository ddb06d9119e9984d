use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

/// A job id: a random UUID v4. Knowing it is what grants access to the job, so it must
/// never be predictable (no v7, no counters).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

/// The text is not a job id in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a job id (expected a lowercase hyphenated UUID)")]
pub struct InvalidJobId;

impl FromStr for JobId {
    type Err = InvalidJobId;

    /// Accepts only the canonical lowercase hyphenated form, so one job has one URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uuid = Uuid::try_parse(s).map_err(|_| InvalidJobId)?;
        if uuid.as_hyphenated().to_string() != s {
            return Err(InvalidJobId);
        }
        Ok(Self(uuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_v4_and_round_trip() {
        let a = JobId::new_random();
        let b = JobId::new_random();
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 4);
        assert_eq!(a.to_string().parse::<JobId>().expect("parse"), a);
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let id = JobId::new_random();
        let simple = id.as_uuid().simple().to_string();
        assert!(simple.parse::<JobId>().is_err());
        assert!("../../etc/passwd".parse::<JobId>().is_err());
    }
}
