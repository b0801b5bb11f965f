//! The caches of realms, clients and role grants (`latchkey_lifecycle::catalog`): requests are
//! answered from them, and no change — by this node, another node or another writer — is
//! answered around.

use std::sync::atomic::Ordering;
use std::time::Duration;

use latchkey_domain::Timestamp;
use latchkey_store::{clients, realms};
use latchkey_tests::calls::{Answer, ClientAuth};
use latchkey_tests::{backend_tests, TestDb, TestServer, ADMIN_PASSWORD, ADMIN_USER};
use reqwest::{Method, StatusCode};
use serde_json::json;

backend_tests!(
    repeated_requests_read_the_catalog_from_memory,
    changes_through_the_admin_api_are_honoured_at_once,
    a_change_written_around_the_server_is_seen,
);

const WEB: ClientAuth<'static> = ClientAuth::Basic("demo-web", "demo-web-secret");

async fn demo(db: &TestDb) -> TestServer {
    let server = TestServer::start_with(db, |c| c.demo = true).await;
    // On PostgreSQL the node caches only once it hears changes.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while !server.life.catalog.is_trusted() {
        assert!(tokio::time::Instant::now() < give_up, "the node never subscribed to catalog changes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

fn token_of(answer: &Answer) -> String {
    answer.body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {}", answer.body)).to_owned()
}

async fn active(server: &TestServer, token: &str) -> bool {
    let answer = server.introspect("demo", WEB, token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["active"] == true
}

async fn repeated_requests_read_the_catalog_from_memory(db: TestDb) {
    let server = demo(&db).await;
    let token = token_of(&server.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&server, &token).await);
    let answer = server.token_request("demo", WEB, &[("grant_type", "client_credentials")]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let stats = &server.life.catalog.stats;
    let (misses, hits) = (stats.misses.load(Ordering::SeqCst), stats.hits.load(Ordering::SeqCst));
    for _ in 0..5 {
        assert!(active(&server, &token).await);
        let answer = server.token_request("demo", WEB, &[("grant_type", "client_credentials")]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    assert_eq!(stats.misses.load(Ordering::SeqCst), misses, "realm, client and roles came from memory");
    // Each round: the realm and the client (twice: authentication and the token's azp) of an
    // introspection, the realm, client and service account's roles of a client_credentials grant.
    assert!(stats.hits.load(Ordering::SeqCst) >= hits + 5 * 5, "{:?} hits", stats.hits);
}

async fn changes_through_the_admin_api_are_honoured_at_once(db: TestDb) {
    let server = demo(&db).await;
    let admin = server.admin_token("master", ADMIN_USER, ADMIN_PASSWORD).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();

    // A role taken away: the manager's token, accepted a moment ago (and cached), is refused.
    let manager = server.admin_token("demo", "realm-manager", "manager-password").await;
    let users = "/admin/realms/demo/users";
    assert_eq!(server.admin_call(Some(&manager), Method::GET, users, None).await.status, StatusCode::OK);
    let manager_id = server
        .admin_call(Some(&admin), Method::GET, "/admin/realms/demo/users?username=realm-manager&exact=true", None)
        .await
        .body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = format!("/admin/realms/demo/users/{manager_id}/admin-roles");
    let taken = server.admin_call(Some(&admin), Method::PUT, &roles, Some(json!([]))).await;
    assert_eq!(taken.status, StatusCode::NO_CONTENT, "{}", taken.body);
    assert_eq!(server.admin_call(Some(&manager), Method::GET, users, None).await.status, StatusCode::FORBIDDEN);

    // A new not-before for the realm: older tokens die at once.
    let token = token_of(&server.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&server, &token).await);
    let not_before = Timestamp::now().as_secs() + 1;
    let put = server
        .admin_call(Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"notBefore": not_before})))
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    assert!(!active(&server, &token).await, "the realm's new not-before is honoured");
    let put = server.admin_call(Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"notBefore": 0}))).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);

    // The client disabled: its secret no longer gets tokens, its tokens are no longer active.
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the not-before second
    let token = token_of(&server.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&server, &token).await);
    let path = format!("/admin/realms/demo/clients/{}", web.id);
    let put = server.admin_call(Some(&admin), Method::PUT, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    let refused = server.token_request("demo", WEB, &[("grant_type", "client_credentials")]).await;
    assert!(refused.status.is_client_error(), "a disabled client gets no token: {}", refused.body);
    let spa = server.introspect("demo", ClientAuth::Public("demo-spa"), &token).await;
    assert_ne!(spa.body["active"], true, "{}", spa.body);
}

async fn a_change_written_around_the_server_is_seen(db: TestDb) {
    let server = demo(&db).await;
    let token = token_of(&server.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&server, &token).await);
    // Another writer (a script, an operator with SQL) disables the client in the database.
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    web.enabled = false;
    clients::update(store.conn(), &web).await.unwrap();
    // PostgreSQL announces it at once; on SQLite the node sees it at its next poll.
    let give_up = tokio::time::Instant::now() + latchkey_lifecycle::catalog::POLL + Duration::from_secs(3);
    loop {
        let answer = server.token_request("demo", WEB, &[("grant_type", "client_credentials")]).await;
        if answer.status.is_client_error() {
            break;
        }
        assert!(tokio::time::Instant::now() < give_up, "the disabled client still gets tokens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two nodes on one PostgreSQL database: what an administrator changes on one is honoured by
/// the other before the change is answered.
#[tokio::test]
async fn postgres_a_change_on_one_node_is_honoured_by_the_other_at_once() {
    let Some(db) = TestDb::postgres().await else { return };
    let a = demo(&db).await;
    let b = TestServer::start(&db).await;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while !b.life.catalog.is_trusted() {
        assert!(tokio::time::Instant::now() < give_up, "node B never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let admin = a.admin_token("master", ADMIN_USER, ADMIN_PASSWORD).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();

    // Signed in on B, B's caches warm: then logout-all on A ends it on B.
    let token = token_of(&b.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&b, &token).await);
    let out = a.admin_call(Some(&admin), Method::POST, "/admin/realms/demo/logout-all", None).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(!active(&b, &token).await, "B honours A's logout-all");

    // A disabled user.
    let token = token_of(&b.password_grant("demo", WEB, "bob", "bob-password").await);
    assert!(active(&b, &token).await);
    let bob = a.admin_call(Some(&admin), Method::GET, "/admin/realms/demo/users?username=bob&exact=true", None).await;
    let path = format!("/admin/realms/demo/users/{}", bob.body[0]["id"].as_str().unwrap());
    let put = a.admin_call(Some(&admin), Method::PUT, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    assert!(!active(&b, &token).await, "B honours the disabled user");

    // A client's new not-before, then the client disabled.
    let token = token_of(&b.password_grant("demo", WEB, "alice", "alice-password").await);
    assert!(active(&b, &token).await);
    let path = format!("/admin/realms/demo/clients/{}", web.id);
    let not_before = Timestamp::now().as_secs() + 1;
    let put = a.admin_call(Some(&admin), Method::PUT, &path, Some(json!({"notBefore": not_before}))).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    assert!(!active(&b, &token).await, "B honours the client's not-before");
    let put = a.admin_call(Some(&admin), Method::PUT, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    let refused = b.token_request("demo", WEB, &[("grant_type", "client_credentials")]).await;
    assert!(refused.status.is_client_error(), "B gives a disabled client no token: {}", refused.body);
}
