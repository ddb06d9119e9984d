//! Webhooks: what a job may ask to be told about, the operator's policy on where those
//! calls may go, and the signature the receiver checks. The worker sends them
//! (`facefix_worker::webhooks`); the API checks a URL's shape at submit.

mod address;
mod args;
mod event;
mod signature;

pub use address::{AddressPolicy, HostRule, is_forbidden};
pub use args::{WebhookArgs, WebhookSecret};
pub use event::{WebhookEvent, parse_events};
pub use signature::{SIGNATURE_VERSION, sign};

/// Why a webhook URL is refused at submit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("expected an absolute https URL")]
    Malformed,
    #[error("only https URLs are accepted on this deployment")]
    PlainHttp,
    #[error("URLs with a user name or password are not accepted")]
    Credentials,
    #[error("webhooks are not enabled on this deployment (no webhook secret)")]
    Disabled,
}

/// Checks the shape of a webhook URL against the policy: https (http only when allowed),
/// a host, no credentials. Where it points is checked at delivery, when its name is
/// resolved.
pub fn check_url(raw: &str, args: &WebhookArgs) -> Result<url::Url, WebhookUrlError> {
    if args.secret().is_none() {
        return Err(WebhookUrlError::Disabled);
    }
    let url = url::Url::parse(raw).map_err(|_| WebhookUrlError::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if args.webhook_allow_http => {}
        "http" => return Err(WebhookUrlError::PlainHttp),
        _ => return Err(WebhookUrlError::Malformed),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(WebhookUrlError::Malformed);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookUrlError::Credentials);
    }
    Ok(url)
}

/// The host of a webhook URL, for logs: the path and query may carry the receiver's own
/// secrets and are never logged.
pub fn loggable_host(raw: &str) -> String {
    url::Url::parse(raw)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "<malformed>".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(allow_http: bool) -> WebhookArgs {
        WebhookArgs {
            webhook_secret: Some(WebhookSecret::new("s")),
            webhook_allow_http: allow_http,
            ..WebhookArgs::default()
        }
    }

    #[test]
    fn urls_are_https_unless_the_operator_allows_http() {
        assert!(check_url("https://example.com/hook?t=1", &args(false)).is_ok());
        assert_eq!(
            check_url("http://example.com/hook", &args(false)),
            Err(WebhookUrlError::PlainHttp)
        );
        assert!(check_url("http://127.0.0.1:8000/hook", &args(true)).is_ok());
        for bad in ["ftp://example.com/", "example.com/hook", "https://", ""] {
            assert_eq!(
                check_url(bad, &args(true)),
                Err(WebhookUrlError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            check_url("https://user:pw@example.com/", &args(false)),
            Err(WebhookUrlError::Credentials)
        );
        assert_eq!(
            check_url("https://example.com/", &WebhookArgs::default()),
            Err(WebhookUrlError::Disabled)
        );
    }

    #[test]
    fn logs_see_the_host_only() {
        assert_eq!(
            loggable_host("https://hooks.example.com/p/abc?token=secret"),
            "hooks.example.com"
        );
        assert_eq!(loggable_host("nonsense"), "<malformed>");
    }
}
