//! The server over HTTP: health, errors, the OpenAPI document.

use latchkey_tests::{backend_tests, TestDb, TestServer};
use serde_json::{json, Value};

backend_tests!(
    health_says_up_when_the_database_answers,
    unknown_paths_get_a_json_404,
    undocumented_methods_get_a_json_405_naming_the_documented_ones,
    the_openapi_document_is_served,
    the_docs_page_is_served_from_the_server_itself
);

async fn health_says_up_when_the_database_answers(db: TestDb) {
    let server = TestServer::start(&db).await;
    let live = server.get("/health/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "UP", "checks": []}));

    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "UP", "checks": [{"name": "database", "status": "UP"}]})
    );
}

async fn unknown_paths_get_a_json_404(db: TestDb) {
    let server = TestServer::start(&db).await;
    let answer = server.http.post(server.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({
            "error": "not_found",
            "error_description": "no resource at POST /no/such/thing",
            "errorMessage": "no resource at POST /no/such/thing"
        })
    );
}

async fn undocumented_methods_get_a_json_405_naming_the_documented_ones(db: TestDb) {
    let server = TestServer::start(&db).await;
    let admin = crate::admin::master_token(&server).await;
    for (method, path, allow) in [
        ("TRACE", "/admin/realms", "GET, POST"),
        ("PATCH", "/admin/realms/master", "DELETE, GET, PUT"),
        ("OPTIONS", "/admin/realms/master/users/count", "GET"),
        ("HEAD", "/health/live", "GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = server.http.request(method.clone(), server.url(path)).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(answer.status(), 405, "{method} {path}");
        assert_eq!(answer.headers()["allow"], allow, "{method} {path}");
        if method != reqwest::Method::HEAD {
            assert_eq!(answer.json::<Value>().await.unwrap()["error"], "method_not_allowed");
        }
    }
    // Without a token, the admin API answers 401 before anything else.
    let answer = server.http.request(reqwest::Method::TRACE, server.url("/admin/realms")).send().await.unwrap();
    assert_eq!(answer.status(), 401);
}

async fn the_openapi_document_is_served(db: TestDb) {
    let server = TestServer::start(&db).await;
    let answer = server.get("/openapi.json").await;
    assert_eq!(answer.status(), 200);
    let served: Value = answer.json().await.unwrap();
    let generated: Value = serde_json::from_str(&latchkey_server::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served["paths"]["/health/ready"]["get"]["responses"]["503"].is_object());
}

/// Only PostgreSQL can lose its database under a running server; SQLite's file stays open.
#[tokio::test]
async fn readiness_says_down_when_the_database_is_gone() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = TestServer::start(&db).await;
    assert_eq!(server.get("/health/ready").await.status(), 200);
    db.drop_now().await;
    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "DOWN", "checks": [{"name": "database", "status": "DOWN"}]})
    );
    assert_eq!(server.get("/health/live").await.status(), 200, "the process itself is still alive");
}

async fn the_docs_page_is_served_from_the_server_itself(db: TestDb) {
    let server = TestServer::start(&db).await;
    let page = server.get("/docs/index.html").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://"), "no asset is loaded from the internet");
    let init = server.get("/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    assert_eq!(server.get("/docs/swagger-ui-bundle.js").await.status(), 200);
}

/// The console's files at /console/, its own addresses answered with its index page (so a
/// reload of `/console/demo/sessions` works), under a strict Content-Security-Policy.
#[tokio::test]
async fn the_console_is_served_with_its_addresses_and_a_strict_policy() {
    let dir = std::env::temp_dir().join(format!("latchkey-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>console</title>").unwrap();
    std::fs::write(dir.join("pkg/app.js"), "export default 1;").unwrap();
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |c| c.console_dir = Some(dir.clone())).await;
    for path in ["/console/", "/console", "/console/demo/sessions?search=alice"] {
        let answer = server.get(path).await;
        assert_eq!(answer.status(), 200, "{path}");
        let csp = answer.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(answer.text().await.unwrap().contains("<title>console</title>"), "{path}");
    }
    let script = server.get("/console/pkg/app.js").await;
    assert_eq!(script.headers()["content-type"], "text/javascript");
    assert_eq!(script.text().await.unwrap(), "export default 1;");
    // Nothing outside the console is answered by it.
    assert_eq!(server.get("/consoles").await.status(), 404);
    std::fs::remove_dir_all(dir).unwrap();

    // Without a built console, a JSON 404 says how to build it.
    let bare = TestServer::start(&TestDb::sqlite()).await;
    let answer = bare.get("/console/").await;
    assert_eq!(answer.status(), 404);
    assert!(answer.text().await.unwrap().contains("scripts/console"));
}

/// Cross-origin calls (a console on an origin of its own) are allowed from the configured
/// origins only, with the list total readable.
#[tokio::test]
async fn cross_origin_calls_only_from_configured_origins() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |c| c.cors_origins = vec!["https://console.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/admin/realms/master/ui-ext/sessions"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let allowed = preflight("https://console.example.com").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://console.example.com");
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["content-type"], "application/json", "a refusal is a JSON error like any other");
    assert_eq!(refused.json::<Value>().await.unwrap()["errorMessage"], "Origin is not allowed to make this request");
    let answer = server
        .http
        .get(server.url("/health/live"))
        .header("Origin", "https://console.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://console.example.com");
    assert!(answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("x-total-count"));
}
