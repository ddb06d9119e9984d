//! A job's webhook, checked at submit against the operator's policy: https (http only
//! with `--webhook-allow-http`), and only on a deployment that signs its calls. Where the
//! URL points is checked by the worker at each call, when its host is resolved.

use crate::error::ApiError;
use facefix_shared::ErrorCode;
use facefix_shared::job::JobParams;
use facefix_shared::webhook::{WebhookArgs, check_url};

pub fn check_webhook(args: &WebhookArgs, params: &JobParams) -> Result<(), ApiError> {
    let Some(url) = &params.webhook else {
        if params.webhook_events.is_empty() {
            return Ok(());
        }
        return Err(ApiError::new(
            ErrorCode::InvalidOption,
            "option `webhook_events` needs a `webhook`",
        ));
    };
    check_url(url, args).map(drop).map_err(|error| {
        ApiError::new(
            ErrorCode::InvalidOption,
            format!("option `webhook`: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::webhook::{WebhookEvent, WebhookSecret};

    #[test]
    fn webhooks_follow_the_operators_policy() {
        let https_only = WebhookArgs {
            webhook_secret: Some(WebhookSecret::new("0123456789abcdef")),
            ..WebhookArgs::default()
        };
        let with = |url: &str| JobParams {
            webhook: Some(url.to_string()),
            ..JobParams::default()
        };
        assert!(check_webhook(&https_only, &JobParams::default()).is_ok());
        assert!(check_webhook(&https_only, &with("https://example.com/h")).is_ok());
        for (args, params) in [
            (&https_only, with("http://example.com/h")),
            (&WebhookArgs::default(), with("https://example.com/h")),
            (
                &https_only,
                JobParams {
                    webhook_events: vec![WebhookEvent::Started],
                    ..JobParams::default()
                },
            ),
        ] {
            let error = check_webhook(args, &params).expect_err("refused");
            assert_eq!(error.code, ErrorCode::InvalidOption);
        }
    }
}
