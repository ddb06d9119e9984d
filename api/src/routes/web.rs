//! The web page, embedded in the binary: no CDN, no external fonts, works offline.
//!
//! Plain HTML, CSS and JavaScript modules from `api/web/`, with no build step: what is in the
//! folder is what the browser gets.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
/// The type browsers require for module scripts.
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// A file of `api/web/`: its name, content type and bytes.
macro_rules! embed {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_bytes!(concat!("../../web/", $name)),
        )
    };
}

/// Each static file: name, content type, bytes. `index.html` is served at `/`, the others
/// at `/static/{name}`.
const FILES: &[(&str, &str, &[u8])] = &[
    embed!("index.html", HTML),
    embed!("style.css", CSS),
    embed!("icon.svg", SVG),
    embed!("app.js", JS),
    embed!("api.js", JS),
    embed!("compare.js", JS),
    embed!("format.js", JS),
    embed!("intake.js", JS),
    embed!("key.js", JS),
    embed!("messages.js", JS),
    embed!("options.js", JS),
    embed!("screens.js", JS),
    embed!("views.js", JS),
    embed!("watch.js", JS),
];

/// The page's policy: everything from this origin, images also as blob: (the preview of the
/// chosen photo, the downloaded result) and data:. No inline scripts or styles anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn serve(name: &str) -> HttpResponse {
    match FILES.iter().find(|(path, _, _)| *path == name) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            // Revalidated on every load: the page changes with the binary, and is small.
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*bytes),
        None => actix_web::ResponseError::error_response(&crate::error::ApiError::new(
            facefix_shared::ErrorCode::NotFound,
            "no such file on the web page",
        )),
    }
}

/// `GET /`: the page.
pub async fn index() -> HttpResponse {
    serve("index.html")
}

/// `GET /static/{file}`: the page's scripts, styles and icon.
pub async fn static_file(name: web::Path<String>) -> HttpResponse {
    serve(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facefix_shared::ErrorCode;
    use std::collections::BTreeSet;

    fn text(name: &str) -> &'static str {
        let (_, _, bytes) = FILES
            .iter()
            .find(|(path, _, _)| *path == name)
            .unwrap_or_else(|| panic!("{name} is not embedded"));
        std::str::from_utf8(bytes).expect("UTF-8")
    }

    /// The quoted keys of the object literal `export const ERROR_MESSAGES = { ... };`.
    fn error_message_keys() -> BTreeSet<String> {
        let source = text("messages.js");
        let start = source
            .find("export const ERROR_MESSAGES = {")
            .expect("messages.js defines ERROR_MESSAGES");
        let body = &source[start..];
        let body = &body[..body.find("\n};").expect("ERROR_MESSAGES ends with `};`")];
        body.lines()
            .map(str::trim)
            .filter(|line| line.starts_with('\''))
            .filter_map(|line| line[1..].split_once("':").map(|(key, _)| key.to_string()))
            .collect()
    }

    #[test]
    fn every_api_error_code_has_a_message_on_the_page() {
        let keys = error_message_keys();
        let missing: Vec<&str> = ErrorCode::ALL
            .iter()
            .map(|code| code.as_str())
            .filter(|code| !keys.contains(*code))
            .collect();
        assert!(
            missing.is_empty(),
            "add these codes to ERROR_MESSAGES in api/web/messages.js: {missing:?}"
        );
        // The page's own codes (no answer, an answer without a code) must be there too.
        assert!(keys.contains("network") && keys.contains("unexpected"));
    }

    /// `/static/x` in the HTML and `from './x'` in the modules: what the browser will ask for.
    fn references(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (marker, end) in [("/static/", '"'), ("from './", '\'')] {
            let mut rest = source;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                if let Some(stop) = rest.find(end) {
                    found.push(rest[..stop].to_string());
                }
            }
        }
        found
    }

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        let embedded: BTreeSet<&str> = FILES.iter().map(|(name, _, _)| *name).collect();
        for (name, content_type, _) in FILES {
            if *content_type == SVG {
                continue;
            }
            for reference in references(text(name)) {
                assert!(
                    embedded.contains(reference.as_str()),
                    "{name} loads {reference}, which web.rs does not embed"
                );
            }
        }
    }

    #[test]
    fn every_file_in_the_web_folder_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        for entry in std::fs::read_dir(&folder).expect("api/web") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                FILES.iter().any(|(file, _, _)| *file == name),
                "api/web/{name} is not in FILES: the page would get a 404 for it"
            );
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = text("index.html");
        assert!(!html.contains("<style"), "inline <style>: CSP forbids it");
        assert!(!html.contains(" style="), "style attribute: CSP forbids it");
        assert!(
            !html.contains("<script>"),
            "inline <script>: CSP forbids it"
        );
        let handler = html.split(" on").skip(1).find(|rest| {
            let name_end = rest.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(0);
            name_end > 0 && rest[name_end..].starts_with('=')
        });
        assert!(handler.is_none(), "inline event handler: CSP forbids it");
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[actix_web::test]
    async fn files_are_served_with_their_type_and_the_policy() {
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .route("/", web::get().to(index))
                .route("/static/{file}", web::get().to(static_file)),
        )
        .await;
        for (path, expected) in [
            ("/", HTML),
            ("/static/app.js", JS),
            ("/static/messages.js", JS),
            ("/static/style.css", CSS),
            ("/static/icon.svg", SVG),
        ] {
            let request = actix_web::test::TestRequest::get().uri(path).to_request();
            let response = actix_web::test::call_service(&app, request).await;
            assert_eq!(response.status(), 200, "{path}");
            let headers = response.headers();
            let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes());
            assert_eq!(content_type, Some(expected.as_bytes()), "{path}");
            assert!(
                headers.contains_key(header::CONTENT_SECURITY_POLICY),
                "{path}"
            );
        }
        let request = actix_web::test::TestRequest::get()
            .uri("/static/nothing.js")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(response.status(), 404);
    }
}
