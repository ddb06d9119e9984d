//! The OpenAPI document covers every route, and the copy published in the repository
//! (`docs/openapi.json`, for people and client generators; `scripts/test.sh` validates it
//! with openapi-spec-validator) is the one the API serves.

use actix_web::test as http_test;
use actix_web::{App, web};
use facefix_api::routes::openapi::{ApiDoc, openapi_json};
use std::path::PathBuf;
use utoipa::OpenApi;

/// Set to `1` to rewrite the published copy from the code.
const UPDATE: &str = "FACEFIX_UPDATE_OPENAPI";

fn published_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn the_document_lists_every_route() {
    let value: serde_json::Value =
        serde_json::to_value(ApiDoc::openapi()).expect("serialize the document");
    assert!(
        value["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        value["openapi"]
    );
    let expected = [
        ("/v1/jobs", "post"),
        ("/v1/jobs/{id}", "get"),
        ("/v1/jobs/{id}", "delete"),
        ("/v1/jobs/{id}/events", "get"),
        ("/v1/jobs/{id}/result", "get"),
        ("/v1/jobs/{id}/input", "get"),
        ("/v1/models", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in expected {
        assert!(
            value["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    assert!(
        value["paths"]["/metrics"].is_null(),
        "/metrics is served on the private metrics port, not by this API"
    );
    let codes = value["components"]["schemas"]["ErrorCode"].to_string();
    for code in [
        "backlog-full",
        "gave-up",
        "upload-timeout",
        "busy",
        "origin-not-allowed",
    ] {
        assert!(
            codes.contains(code),
            "error code {code} not documented: {codes}"
        );
    }
    let upload = &value["paths"]["/v1/jobs"]["post"]["responses"];
    for status in ["403", "408", "413", "429", "503"] {
        assert!(
            upload[status].is_object(),
            "POST /v1/jobs does not document {status}"
        );
    }
}

#[actix_web::test]
async fn the_published_document_is_the_served_one() {
    let app =
        http_test::init_service(App::new().route("/openapi.json", web::get().to(openapi_json)))
            .await;
    let request = http_test::TestRequest::get()
        .uri("/openapi.json")
        .to_request();
    let served: serde_json::Value = http_test::call_and_read_body_json(&app, request).await;
    let path = published_path();
    if std::env::var(UPDATE).is_ok_and(|v| v == "1") {
        let mut text = serde_json::to_string_pretty(&served).expect("serialize");
        text.push('\n');
        std::fs::write(&path, text).expect("write docs/openapi.json");
    }
    let published: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    assert!(
        published == served,
        "docs/openapi.json differs from the document the API serves; regenerate it with \
         `{UPDATE}=1 cargo test -p facefix-api --test openapi` and commit it"
    );
}
