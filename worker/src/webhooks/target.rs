//! Where a webhook call may connect: the URL's host resolved once, every address checked
//! against the address policy, and the checked address pinned for the connection, so a
//! DNS answer that changes between the check and the connect (rebinding) cannot send the
//! call somewhere else.

use facefix_shared::webhook::{AddressPolicy, WebhookArgs, WebhookUrlError, check_url};
use std::net::SocketAddr;
use url::{Host, Url};

/// Why a call was refused before any connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The URL passed the API's check under another policy (or before a change of it).
    #[error(transparent)]
    Policy(#[from] WebhookUrlError),
    #[error("the URL has no port, or the HTTP client cannot be built")]
    Malformed,
    #[error("the host does not resolve: {0}")]
    Unresolved(std::io::Error),
    #[error("the host resolves to {0}, a loopback, private or link-local address not allow-listed")]
    Forbidden(std::net::IpAddr),
}

/// A URL whose address passed the check, and a client bound to that address.
pub(crate) struct Target {
    pub url: Url,
    pub client: reqwest::Client,
}

/// Resolves and checks `raw`, then builds a client that connects to the checked address
/// only (no redirects: a redirect could lead anywhere).
pub(crate) async fn checked_target(
    raw: &str,
    args: &WebhookArgs,
    policy: &AddressPolicy,
) -> Result<Target, Refusal> {
    let url = check_url(raw, args)?;
    let port = url.port_or_known_default().ok_or(Refusal::Malformed)?;
    let host = url.host().ok_or(Refusal::Malformed)?.to_owned();
    let (name, addresses): (String, Vec<SocketAddr>) = match &host {
        Host::Domain(name) => {
            let found = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(Refusal::Unresolved)?
                .collect();
            (name.clone(), found)
        }
        Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new((*ip).into(), port)]),
        Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new((*ip).into(), port)]),
    };
    // Every address, not only the one used: a name with one internal address among public
    // ones is a probe of the internal network.
    if let Some(bad) = addresses.iter().find(|a| !policy.permits(&name, a.ip())) {
        return Err(Refusal::Forbidden(bad.ip()));
    }
    let first = addresses.first().ok_or_else(|| {
        Refusal::Unresolved(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no addresses",
        ))
    })?;
    let mut builder = reqwest::Client::builder()
        .timeout(args.webhook_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Host::Domain(name) = &host {
        builder = builder.resolve(name, *first);
    }
    let client = builder.build().map_err(|_| Refusal::Malformed)?;
    Ok(Target { url, client })
}
