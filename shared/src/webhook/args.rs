//! The operator's webhook settings, one group for the API (which checks URLs at submit)
//! and the worker (which delivers): both must agree on the policy.

use super::address::{AddressPolicy, HostRule};
use crate::config::parse_duration;
use clap::Args;
use clap::builder::BoolishValueParser;
use std::time::Duration;

/// The deployment's signing secret. Never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// An empty value is accepted and means "no secret", so that a compose file can pass an
/// unset variable through as `FACEFIX_WEBHOOK_SECRET=`.
fn parse_secret(value: &str) -> Result<WebhookSecret, String> {
    if !value.is_empty() && value.len() < 16 {
        return Err("the webhook secret must be at least 16 characters".to_string());
    }
    Ok(WebhookSecret::new(value))
}

#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Secret that signs webhook calls (HMAC-SHA256, header Facefix-Webhook-Signature);
    /// at least 16 characters. Unset or empty: jobs cannot ask for webhooks. Give the API and the
    /// workers the same value.
    #[arg(long, env = "FACEFIX_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub webhook_secret: Option<WebhookSecret>,

    /// Accept plain-http webhook URLs (local development only: the job's status travels
    /// unencrypted).
    #[arg(long, env = "FACEFIX_WEBHOOK_ALLOW_HTTP", value_parser = BoolishValueParser::new())]
    pub webhook_allow_http: bool,

    /// Hosts or CIDR ranges webhooks may reach although they are loopback, private or
    /// link-local (comma list, e.g. `127.0.0.1,10.0.0.0/8,hooks.internal`).
    #[arg(long, env = "FACEFIX_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',', value_parser = HostRule::parse)]
    pub webhook_allow_hosts: Vec<HostRule>,

    /// How long a webhook call is retried (network errors, 5xx, 429) before it is given up.
    #[arg(long, env = "FACEFIX_WEBHOOK_RETRY_FOR", default_value = "5m", value_parser = parse_duration)]
    pub webhook_retry_for: Duration,

    /// First delay between tries of a webhook call; doubles after each.
    #[arg(long, env = "FACEFIX_WEBHOOK_RETRY_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub webhook_retry_backoff: Duration,

    /// Time limit of one webhook call (connect, send, answer).
    #[arg(long, env = "FACEFIX_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        Self {
            webhook_secret: None,
            webhook_allow_http: false,
            webhook_allow_hosts: Vec::new(),
            webhook_retry_for: Duration::from_secs(300),
            webhook_retry_backoff: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookArgs {
    /// The signing secret, unless unset or empty (then webhooks are off).
    pub fn secret(&self) -> Option<&WebhookSecret> {
        self.webhook_secret
            .as_ref()
            .filter(|secret| !secret.0.is_empty())
    }

    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy {
            allow: self.webhook_allow_hosts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        webhooks: WebhookArgs,
    }

    #[test]
    fn defaults_match_the_flags_and_the_secret_stays_hidden() {
        let parsed = Probe::try_parse_from(["probe"]).expect("defaults");
        let defaults = WebhookArgs::default();
        assert_eq!(
            parsed.webhooks.webhook_retry_for,
            defaults.webhook_retry_for
        );
        assert_eq!(parsed.webhooks.webhook_timeout, defaults.webhook_timeout);
        assert_eq!(
            parsed.webhooks.webhook_retry_backoff,
            defaults.webhook_retry_backoff
        );
        let parsed = Probe::try_parse_from([
            "probe",
            "--webhook-secret",
            "0123456789abcdef-secret",
            "--webhook-allow-hosts",
            "127.0.0.1,10.0.0.0/8",
        ])
        .expect("parse");
        assert_eq!(parsed.webhooks.webhook_allow_hosts.len(), 2);
        let shown = format!("{:?}", parsed.webhooks);
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(Probe::try_parse_from(["probe", "--webhook-secret", "short"]).is_err());
        let empty = Probe::try_parse_from(["probe", "--webhook-secret", ""]).expect("empty");
        assert!(empty.webhooks.secret().is_none(), "empty means off");
    }
}
