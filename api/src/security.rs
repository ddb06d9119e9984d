//! What a browser may do with the API: which web origins may call it (CORS, refused by
//! default), and the headers every response carries (content security policy, no
//! sniffing, no framing, no referrer).
//!
//! actix-cors answers preflights and adds the `Access-Control-*` headers for allowed
//! origins; [`refuse_foreign_origins`], in front of it, answers every other origin with
//! the API's own error (403 `origin-not-allowed`), so a page elsewhere can neither read
//! the API nor make it act (a cross-origin form post would otherwise still upload).

use crate::error::ApiError;
use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{RequestHead, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use clap::Args;
use facefix_shared::ErrorCode;
use std::sync::Arc;

/// The policy of responses that carry none of their own (everything but the web page): a
/// JSON answer or an image is never a document that runs or embeds anything.
const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// Cross-origin settings.
#[derive(Debug, Clone, Default, Args)]
pub struct CorsArgs {
    /// Web origins (`https://host[:port]`, comma-separated) whose pages may call the API;
    /// `*` allows any. The API's own page is always allowed; other origins get 403.
    #[arg(long, env = "FACEFIX_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,
}

/// An origin as browsers send it: scheme and host, an optional port, nothing after.
pub fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value == "*" {
        return Ok(value.to_string());
    }
    let Some((scheme, authority)) = value.split_once("://") else {
        return Err(format!(
            "{value:?} is not an origin like https://example.com"
        ));
    };
    if !matches!(scheme, "http" | "https") || authority.is_empty() || authority.contains('/') {
        return Err(format!(
            "{value:?} is not an origin like https://example.com (scheme, host and port only)"
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// Which origins may call the API: its own (the `Host` the request came to) and those
/// listed.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    listed: Vec<String>,
    any: bool,
}

impl OriginPolicy {
    pub fn new(args: &CorsArgs) -> Self {
        Self {
            any: args.cors_origins.iter().any(|o| o == "*"),
            listed: args.cors_origins.clone(),
        }
    }

    /// Whether a request from a page at `origin` may be served.
    pub fn allows(&self, origin: &HeaderValue, head: &RequestHead) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        self.any || self.listed.contains(&origin) || same_origin(&origin, head)
    }
}

/// The page's own origin: the origin's host and port are those the request was sent to.
/// A proxy that rewrites `Host` passes the original as `X-Forwarded-Host`; a page cannot
/// set that header on a request without a preflight, which names no value to trust.
fn same_origin(origin: &str, head: &RequestHead) -> bool {
    let Some((_, authority)) = origin.split_once("://") else {
        return false; // `null` (sandboxed frames, files) is never the API's own page
    };
    let forwarded = head
        .headers()
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next());
    let host = head
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| head.uri.authority().map(|a| a.as_str()));
    [forwarded, host]
        .into_iter()
        .flatten()
        .any(|host| host.trim().eq_ignore_ascii_case(authority))
}

/// The CORS layer for the allowed origins: preflights, `Access-Control-Allow-Origin`, and
/// the headers a client may send and read.
pub fn cors(policy: Arc<OriginPolicy>) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, head| policy.allows(origin, head))
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("traceparent"),
            header::HeaderName::from_static("tracestate"),
        ])
        .expose_headers([header::LOCATION, header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE_SECS)
}

/// Answers a request from a page of a foreign origin with 403 `origin-not-allowed`, before
/// any handler (or actix-cors) sees it. Requests without `Origin` (programs) pass.
pub async fn refuse_foreign_origins(
    policy: Arc<OriginPolicy>,
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refused = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| !policy.allows(origin, request.head()));
    if refused {
        let error = ApiError::new(
            ErrorCode::OriginNotAllowed,
            "requests from pages of this origin are not allowed (the server's --cors-origins)",
        );
        let response = actix_web::ResponseError::error_response(&error);
        return Ok(request.into_response(response).map_into_right_body());
    }
    Ok(next.call(request).await?.map_into_left_body())
}

/// The headers every response carries; responses with a policy of their own (the web
/// page) keep it.
pub fn add_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CONTENT_SECURITY_POLICY),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn policy(origins: &[&str]) -> OriginPolicy {
        OriginPolicy::new(&CorsArgs {
            cors_origins: origins
                .iter()
                .map(|o| parse_origin(o).expect("origin"))
                .collect(),
        })
    }

    fn allowed(policy: &OriginPolicy, origin: &str, headers: &[(&str, &str)]) -> bool {
        let mut request = TestRequest::post().uri("/v1/jobs");
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let request = request.to_http_request();
        policy.allows(
            &HeaderValue::from_str(origin).expect("header"),
            request.head(),
        )
    }

    #[test]
    fn only_the_own_origin_is_allowed_by_default() {
        let policy = policy(&[]);
        let host = [("host", "photos.example.org:8080")];
        assert!(allowed(&policy, "http://photos.example.org:8080", &host));
        assert!(allowed(&policy, "https://PHOTOS.example.org:8080", &host));
        assert!(!allowed(&policy, "https://evil.example", &host));
        assert!(
            !allowed(&policy, "http://photos.example.org", &host),
            "another port"
        );
        assert!(!allowed(&policy, "null", &host));
    }

    #[test]
    fn a_proxy_forwarded_host_counts_as_the_own_origin() {
        let policy = policy(&[]);
        let headers = [
            ("host", "facefix-api.facefix.svc"),
            ("x-forwarded-host", "photos.example.org"),
        ];
        assert!(allowed(&policy, "https://photos.example.org", &headers));
        assert!(!allowed(&policy, "https://evil.example", &headers));
    }

    #[test]
    fn listed_origins_and_the_wildcard_are_allowed() {
        let host = [("host", "api.example.org")];
        let listed = policy(&["https://app.example.org"]);
        assert!(allowed(&listed, "https://app.example.org", &host));
        assert!(!allowed(&listed, "https://other.example.org", &host));
        assert!(allowed(&policy(&["*"]), "https://other.example.org", &host));
    }

    #[test]
    fn origins_are_checked_when_configured() {
        assert_eq!(
            parse_origin(" https://App.Example.org:8443 ").as_deref(),
            Ok("https://app.example.org:8443")
        );
        for bad in [
            "app.example.org",
            "ftp://app.example.org",
            "https://app.example.org/",
            "https://",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
