//! The server over HTTP: health, errors, the OpenAPI document.

use latchkey_tests::{backend_tests, TestDb, TestServer};
use serde_json::{json, Value};

backend_tests!(
    health_says_up_when_the_database_answers,
    unknown_paths_get_a_json_404,
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
