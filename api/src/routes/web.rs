//! The web page, embedded in the binary: no CDN, no external fonts, works offline.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// Each static file: path, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../../web/index.html"),
)];

/// The page's policy: everything from this origin, images also as blob:/data: for previews.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn serve(name: &str) -> HttpResponse {
    match FILES.iter().find(|(path, _, _)| *path == name) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `GET /`: the page.
pub async fn index() -> HttpResponse {
    serve("index.html")
}

/// `GET /static/{file}`: the page's scripts and styles.
pub async fn static_file(name: web::Path<String>) -> HttpResponse {
    serve(&name)
}
