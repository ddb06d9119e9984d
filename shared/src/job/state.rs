use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is in its life: `queued → processing → succeeded | failed`, and from any
/// state to `deleted` (the user asked) or `expired` (retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Deleted,
    Expired,
}

impl JobState {
    pub const ALL: &'static [JobState] = &[
        Self::Queued,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Deleted,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|state| state.as_str() == s)
    }

    /// No further processing happens in a final state; SSE streams close on one.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Processing)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_every_state() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(*state));
        }
        assert_eq!(JobState::parse("done"), None);
    }

    #[test]
    fn only_queued_and_processing_are_not_final() {
        assert!(JobState::Succeeded.is_final());
        assert!(!JobState::Processing.is_final());
        assert!(!JobState::Queued.is_final());
    }
}
