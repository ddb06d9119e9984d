//! The OpenAPI document covers every route and is written out for the validator that
//! `scripts/test.sh` runs on it (openapi-spec-validator).

use facefix_api::routes::openapi::ApiDoc;
use utoipa::OpenApi;

#[test]
fn the_document_lists_every_route_and_is_written_for_validation() {
    let doc = ApiDoc::openapi();
    let json = doc.to_pretty_json().expect("serialize");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
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
        ("/metrics", "get"),
    ];
    for (path, method) in expected {
        assert!(
            value["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    let codes = value["components"]["schemas"]["ErrorCode"].to_string();
    assert!(
        codes.contains("backlog-full") && codes.contains("gave-up"),
        "error codes not documented: {codes}"
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openapi.json");
    std::fs::write(&out, json).expect("write target/openapi.json");
}
