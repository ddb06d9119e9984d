//! The events a job's webhook may be called for (named as in Replicate's API).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookEvent {
    /// A worker started the job.
    Started,
    /// The job entered a pipeline stage (fetch, decode, detect, …).
    Stage,
    /// The job reached a final state (succeeded or failed).
    Completed,
}

impl WebhookEvent {
    pub const ALL: [Self; 3] = [Self::Started, Self::Stage, Self::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Stage => "stage",
            Self::Completed => "completed",
        }
    }
}

/// Parses `started,completed` (case-insensitive, duplicates folded, order kept). An empty
/// list is an error: it would mean "never call", which is no webhook at all.
pub fn parse_events(list: &str) -> Result<Vec<WebhookEvent>, String> {
    let mut events = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let event = WebhookEvent::ALL
            .into_iter()
            .find(|event| event.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("unknown event {name:?} (known: started, stage, completed)"))?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err("expected a comma list of started, stage, completed".to_string());
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists_parse() {
        assert_eq!(
            parse_events("Started, completed,started"),
            Ok(vec![WebhookEvent::Started, WebhookEvent::Completed])
        );
        assert!(parse_events("").is_err());
        assert!(parse_events("finished").is_err());
    }
}
