//! The admin API as Keycloak's clients use it: tokens from `admin-cli`, Keycloak's paths and
//! exact JSON shapes, the role matrix, paging and totals, and each ending's effect.

use std::collections::BTreeSet;

use latchkey_domain::{ClientSession, Realm, SessionId, SessionType, Timestamp, User, UserSession};
use latchkey_store::{clients, realms, sessions, users};
use latchkey_tests::calls::ClientAuth;
use latchkey_tests::rp::{self, authorization, code_flow, exchange, relying_party, Browser};
use latchkey_tests::{backend_tests, TestDb, TestServer, ADMIN_PASSWORD, ADMIN_USER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

backend_tests!(
    the_realm_wide_list_has_keycloaks_shape_a_total_and_filters,
    paging_is_stable_and_totals_exclude_dead_sessions,
    per_client_and_per_user_lists_and_counts,
    the_role_matrix_holds,
    ending_sessions_through_the_api,
    bad_input_gets_a_clear_4xx,
    users_and_their_roles_through_the_api,
    clients_through_the_api,
    admin_writes_and_session_endings_are_audited,
    realms_are_created_and_deleted_by_the_master_admin_only,
    an_offline_session_is_known_by_the_id_of_its_sign_in,
    admin_roles_are_granted_the_keycloak_way,
);

pub(crate) async fn token(server: &TestServer, realm: &str, username: &str, password: &str) -> String {
    server.admin_token(realm, username, password).await
}

/// A demo server (its realm has `admin-cli`, as every realm does) and its demo realm.
pub(crate) async fn demo(db: &TestDb) -> (TestServer, Realm) {
    let server = TestServer::start_with(db, |c| c.demo = true).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    (server, realm)
}

pub(crate) async fn master_token(server: &TestServer) -> String {
    token(server, "master", ADMIN_USER, ADMIN_PASSWORD).await
}

pub(crate) async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let answer = server.admin_call(token, method, path, body).await;
    (answer.status, answer.header("x-total-count"), answer.body)
}

pub(crate) async fn get(server: &TestServer, token: &str, path: &str) -> (StatusCode, Option<String>, Value) {
    call(server, Some(token), Method::GET, path, None).await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

async fn the_realm_wide_list_has_keycloaks_shape_a_total_and_filters(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let web =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    code_flow(&web, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    code_flow(&web, &Browser::new(&server), &["openid", "offline_access"], "bob", "bob-password").await;
    let admin = master_token(&server).await;

    let (status, total, body) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?first=0&max=10").await;
    assert_eq!(status, 200);
    assert_eq!(total.as_deref(), Some("3"), "alice, bob, bob's offline session");
    let rows = body.as_array().unwrap();
    let expected: BTreeSet<String> =
        ["id", "username", "userId", "ipAddress", "start", "lastAccess", "type", "clients", "transientUser"]
            .map(String::from)
            .into();
    for row in rows {
        assert_eq!(keys(row), expected, "{row}");
        assert!(row["start"].as_i64().unwrap() > 1_700_000_000_000, "epoch milliseconds");
        let web_id =
            clients::find_by_client_id(db.store().await.conn(), realm.id, "demo-web").await.unwrap().unwrap().id;
        assert_eq!(row["clients"], json!({ web_id.to_string(): "demo-web" }));
    }
    let last: Vec<i64> = rows.iter().map(|r| r["lastAccess"].as_i64().unwrap()).collect();
    assert!(last.windows(2).all(|w| w[0] >= w[1]), "newest activity first: {last:?}");

    let (_, total, body) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?type=OFFLINE").await;
    assert_eq!(total.as_deref(), Some("1"));
    assert_eq!(body[0]["type"], "OFFLINE");
    let (_, total, body) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?search=ALI").await;
    assert_eq!((total.as_deref(), body[0]["username"].as_str()), (Some("1"), Some("alice")));
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?search=DEMO-W").await;
    assert_eq!(total.as_deref(), Some("3"), "search by clientId");
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?search=127.0").await;
    assert_eq!(total.as_deref(), Some("3"), "search by IP prefix");
    let (_, total, body) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?search=nobody").await;
    assert_eq!((total.as_deref(), body), (Some("0"), json!([])));
}

/// `client`'s session in `s`, started with it and last refreshed at its last use.
pub(crate) fn held_by(s: &UserSession, client: latchkey_domain::ClientId) -> ClientSession {
    ClientSession {
        user_session_id: s.id,
        client_id: client,
        realm_id: s.realm_id,
        session_type: s.session_type,
        started_at: s.started_at,
        last_refresh: s.last_access,
        scopes: vec![],
        redirect_uri: None,
        refresh_token_id: None,
    }
}

/// Inserts `n` sessions of `user` straight into the store, one second of activity apart.
pub(crate) async fn many_sessions(
    db: &TestDb,
    realm: &Realm,
    user: &User,
    client: latchkey_domain::ClientId,
    n: usize,
) -> Vec<SessionId> {
    let store = db.store().await;
    let txn = store.begin().await.unwrap();
    let base = Timestamp::now().as_millis() - 1_000_000;
    let mut ids = Vec::new();
    for i in 0..n {
        let mut s = UserSession::start(
            realm.id,
            user.id,
            SessionType::Regular,
            &format!("10.0.{}.{}", i / 250, i % 250),
            false,
            Timestamp::from_millis(base),
        );
        s.last_access = Timestamp::from_millis(base + (i as i64 % 500) * 1000);
        sessions::insert_user_session(&txn, &s).await.unwrap();
        sessions::insert_client_session(&txn, &held_by(&s, client)).await.unwrap();
        ids.push(s.id);
    }
    txn.commit().await.unwrap();
    ids
}

async fn paging_is_stable_and_totals_exclude_dead_sessions(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let ids = many_sessions(&db, &realm, &alice, web.id, 1200).await;
    // Dead ones: ended, and idle past the realm's 30 minutes.
    let txn = store.begin().await.unwrap();
    sessions::end_sessions(&txn, &ids[..50], latchkey_domain::SessionEnd::AdminSignOut, Timestamp::now())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let mut stale = UserSession::start(
        realm.id,
        alice.id,
        SessionType::Regular,
        "10.9.9.9",
        false,
        Timestamp::now().plus_secs(-7200),
    );
    stale.last_access = Timestamp::now().plus_secs(-3600);
    sessions::insert_user_session(store.conn(), &stale).await.unwrap();

    let admin = master_token(&server).await;
    let mut seen = Vec::new();
    let mut previous_last = i64::MAX;
    for page in 0..13 {
        let (status, total, body) =
            get(&server, &admin, &format!("/admin/realms/demo/ui-ext/sessions?first={}&max=100", page * 100)).await;
        assert_eq!(status, 200);
        assert_eq!(total.as_deref(), Some("1150"));
        for row in body.as_array().unwrap() {
            let last = row["lastAccess"].as_i64().unwrap();
            assert!(last <= previous_last, "ordered across pages");
            previous_last = last;
            seen.push(row["id"].as_str().unwrap().to_owned());
        }
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (1150, 1150), "every live session once, none twice");
    assert!(!seen.contains(&stale.id.to_string()) && !seen.contains(&ids[0].to_string()));

    let (_, _, count) = get(&server, &admin, &format!("/admin/realms/demo/clients/{}/session-count", web.id)).await;
    assert_eq!(count, json!({"count": 1150}));
    let (_, total, page) =
        get(&server, &admin, &format!("/admin/realms/demo/clients/{}/user-sessions?first=1100&max=100", web.id)).await;
    assert_eq!(
        (total.as_deref(), page.as_array().unwrap().len()),
        (Some("1150"), 50),
        "a short last page ends the paging"
    );
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?search=10.0.1.").await;
    assert_eq!(total.as_deref(), Some("250"));
}

async fn per_client_and_per_user_lists_and_counts(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let web =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    code_flow(&web, &Browser::new(&server), &["openid", "offline_access"], "carol", "carol-password").await;
    let store = db.store().await;
    let client = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let carol = users::find_by_username(store.conn(), realm.id, "carol").await.unwrap().unwrap();
    let admin = master_token(&server).await;

    let (_, _, stats) = get(&server, &admin, "/admin/realms/demo/client-session-stats").await;
    assert_eq!(stats, json!([{"id": client.id.to_string(), "clientId": "demo-web", "active": "1", "offline": "1"}]));
    let (_, _, online) = get(&server, &admin, &format!("/admin/realms/demo/clients/{}/user-sessions", client.id)).await;
    let expected: BTreeSet<String> =
        ["id", "username", "userId", "ipAddress", "start", "lastAccess", "rememberMe", "clients", "transientUser"]
            .map(String::from)
            .into();
    assert_eq!(keys(&online[0]), expected);
    let (_, _, offline) =
        get(&server, &admin, &format!("/admin/realms/demo/clients/{}/offline-sessions", client.id)).await;
    assert_eq!(offline.as_array().unwrap().len(), 1);
    assert_eq!(offline[0]["id"], online[0]["id"], "as in Keycloak, the sign-in's id");
    assert_eq!(
        get(&server, &admin, &format!("/admin/realms/demo/clients/{}/offline-session-count", client.id)).await.2,
        json!({"count": 1})
    );

    let (_, _, mine) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/sessions", carol.id)).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "regular sessions only, as Keycloak");
    let (_, _, all) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/sessions?type=ALL", carol.id)).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "and the offline ones on request");
    let (_, _, by_client) =
        get(&server, &admin, &format!("/admin/realms/demo/users/{}/offline-sessions/{}", carol.id, client.id)).await;
    assert_eq!(by_client[0]["id"], offline[0]["id"]);
}

async fn the_role_matrix_holds(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let admin = master_token(&server).await;
    let auditor = token(&server, "demo", "auditor", "auditor-password").await;
    let manager = token(&server, "demo", "realm-manager", "manager-password").await;
    let nobody = token(&server, "demo", "bob", "bob-password").await;

    let reads = [
        ("/admin/realms/demo/ui-ext/sessions", "view-realm"),
        (&format!("/admin/realms/demo/ui-ext/sessions/client?clientId={}", web.id) as &str, "view-clients"),
        ("/admin/realms/demo/client-session-stats", "view-realm"),
        (&format!("/admin/realms/demo/clients/{}/user-sessions", web.id), "view-clients"),
        (&format!("/admin/realms/demo/clients/{}/session-count", web.id), "view-clients"),
        (&format!("/admin/realms/demo/clients/{}/offline-sessions", web.id), "view-clients"),
        (&format!("/admin/realms/demo/clients/{}/offline-session-count", web.id), "view-clients"),
        (&format!("/admin/realms/demo/users/{}/sessions", alice.id), "view-users"),
        (&format!("/admin/realms/demo/users/{}/offline-sessions/{}", alice.id, web.id), "view-users"),
        ("/admin/realms/demo", "view-realm"),
    ];
    for (path, role) in reads {
        assert_eq!(call(&server, None, Method::GET, path, None).await.0, 401, "{path} without a token");
        assert_eq!(call(&server, Some("not.a.token"), Method::GET, path, None).await.0, 401, "{path} bad token");
        assert_eq!(get(&server, &nobody, path).await.0, 403, "{path} with no role");
        let expected = if role == "view-users" { 200 } else { 403 };
        assert_eq!(get(&server, &auditor, path).await.0, expected, "{path} as auditor (view-users only)");
        assert_eq!(get(&server, &manager, path).await.0, 200, "{path} as realm-admin");
        assert_eq!(get(&server, &admin, path).await.0, 200, "{path} as the master admin");
        let master_path = path.replacen("/demo", "/master", 1);
        assert_eq!(get(&server, &manager, &master_path).await.0, 403, "{master_path}: another realm");
    }
    assert_eq!(
        get(&server, &manager, "/admin/realms/nowhere/ui-ext/sessions").await.0,
        403,
        "no hint whether it exists"
    );
    assert_eq!(get(&server, &admin, "/admin/realms/nowhere/ui-ext/sessions").await.0, 404);
    let (_, _, visible) = get(&server, &manager, "/admin/realms").await;
    assert_eq!(visible.as_array().unwrap().iter().map(|r| r["realm"].clone()).collect::<Vec<_>>(), vec![json!("demo")]);
    assert_eq!(get(&server, &admin, "/admin/realms").await.2.as_array().unwrap().len(), 2);

    let writes = [
        (Method::POST, format!("/admin/realms/demo/users/{}/logout", alice.id)),
        (Method::DELETE, format!("/admin/realms/demo/sessions/{}", Uuid::new_v4())),
        (Method::POST, "/admin/realms/demo/logout-all".to_owned()),
        (Method::POST, "/admin/realms/demo/push-revocation".to_owned()),
        (Method::POST, format!("/admin/realms/demo/clients/{}/push-revocation", web.id)),
        (Method::PUT, "/admin/realms/demo".to_owned()),
    ];
    for (method, path) in writes {
        let body = Some(json!({}));
        assert_eq!(call(&server, None, method.clone(), &path, body.clone()).await.0, 401, "{path}");
        assert_eq!(
            call(&server, Some(&auditor), method.clone(), &path, body.clone()).await.0,
            403,
            "{path} as auditor"
        );
        assert_eq!(call(&server, Some(&nobody), method.clone(), &path, body).await.0, 403, "{path} with no role");
    }
}

async fn ending_sessions_through_the_api(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let web =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    let (alice_tokens, _) = code_flow(&web, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    code_flow(&web, &Browser::new(&server), &["openid"], "bob", "bob-password").await;
    let admin = master_token(&server).await;
    let store = db.store().await;
    let bob = users::find_by_username(store.conn(), realm.id, "bob").await.unwrap().unwrap();
    let sid = |t: &openidconnect::core::CoreTokenResponse| {
        use base64::Engine;
        use openidconnect::OAuth2TokenResponse;
        let payload = t.access_token().secret().split('.').nth(1).unwrap().to_owned();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sid"].as_str().unwrap().to_owned()
    };

    // `isOffline` says which kind the id names: a regular session is not found among offline ones.
    let wrong_kind = format!("/admin/realms/demo/sessions/{}?isOffline=true", sid(&alice_tokens));
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &wrong_kind, None).await.0, StatusCode::NOT_FOUND);
    let path = format!("/admin/realms/demo/sessions/{}?isOffline=false", sid(&alice_tokens));
    let (status, _, _) = call(&server, Some(&admin), Method::DELETE, &path, Some(json!({}))).await;
    assert_eq!(status, 204);
    let (status, _, body) = call(&server, Some(&admin), Method::DELETE, &path, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    let (status, _, _) = call(
        &server,
        Some(&admin),
        Method::POST,
        &format!("/admin/realms/demo/users/{}/logout", bob.id),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions").await;
    assert_eq!(total.as_deref(), Some("0"));
    let bob = users::find_by_id(store.conn(), bob.id).await.unwrap().unwrap();
    assert!(bob.not_before > 0, "user logout sets the user's not-before");

    code_flow(&web, &Browser::new(&server), &["openid"], "carol", "carol-password").await;
    let (status, _, result) =
        call(&server, Some(&admin), Method::POST, "/admin/realms/demo/logout-all", Some(json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        result,
        json!({"pendingRequests": ["http://localhost:3000/backchannel-logout"]}),
        "answered at once: carol's session is announced to the demo's app in the background"
    );
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions").await;
    assert_eq!(total.as_deref(), Some("0"));
    let (_, _, realm_now) = get(&server, &admin, "/admin/realms/demo").await;
    assert!(realm_now["notBefore"].as_i64().unwrap() > 0);

    let (status, _, _) =
        call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"notBefore": 1764270000.75}))).await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &admin, "/admin/realms/demo").await.2["notBefore"], 1764270000);
    let (status, _, result) =
        call(&server, Some(&admin), Method::POST, "/admin/realms/demo/push-revocation", Some(json!({"realm": "demo"})))
            .await;
    assert_eq!(status, 200);
    assert_eq!(result, json!({"notNotifiedClients": ["demo-saml"]}));
}

async fn bad_input_gets_a_clear_4xx(db: TestDb) {
    let (server, _) = demo(&db).await;
    let admin = master_token(&server).await;
    for (query, needle) in [
        ("first=-1", "first: must not be negative"),
        ("max=-5", "max: must not be negative"),
        ("max=ten", "max: 'ten' is not a whole number"),
        ("type=BOTH", "type: unknown variant `BOTH`"),
    ] {
        let (status, _, body) = get(&server, &admin, &format!("/admin/realms/demo/ui-ext/sessions?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error_description"].as_str().unwrap().contains(needle), "{query}: {body}");
    }
    let (status, _, body) =
        call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"notBefore": "soon"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) =
        call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"notBefore": -1}))).await;
    assert_eq!(status, 400);
    let (status, _, body) =
        call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(json!({"ssoSessionIdleTimeout": 0}))).await;
    assert_eq!(status, 400);
    assert!(body["errorMessage"].as_str().unwrap().contains("ssoSessionIdleTimeout"));
    let huge = json!({"displayName": "x".repeat(2 * 1024 * 1024)});
    let (status, _, _) = call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(huge)).await;
    assert_eq!(status, 413);
    let (status, _, _) = get(&server, &admin, "/admin/realms/demo/clients/not-a-uuid/session-count").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/sessions", Uuid::new_v4())).await;
    assert_eq!(status, 404);
    // NUL, which PostgreSQL can neither store nor compare, is refused alike on every backend.
    for (method, path, body) in [
        (Method::PUT, "/admin/realms/demo", Some(json!({"displayName": "a\u{0}b"}))),
        (Method::POST, "/admin/realms/demo/clients", Some(json!({"clientId": "nul", "attributes": {"k\u{0}": "v"}}))),
        (Method::GET, "/admin/realms/demo/users?search=a%00b", None),
    ] {
        let (status, _, error) = call(&server, Some(&admin), method, path, body).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert!(error["errorMessage"].as_str().unwrap().contains("must not contain the NUL character"), "{error}");
    }
    assert_eq!(get(&server, &admin, "/admin/realms/a%00b").await.0, 404);
}

async fn users_and_their_roles_through_the_api(db: TestDb) {
    let (server, _) = demo(&db).await;
    let admin = master_token(&server).await;
    let body = json!({"username": "Dora", "email": "Dora@Example.com", "firstName": "Dora", "enabled": true,
        "credentials": [{"type": "password", "value": "dora-password", "temporary": false}]});
    let answer =
        rp::http().post(server.url("/admin/realms/demo/users")).bearer_auth(&admin).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    assert_eq!(location, server.url(&format!("/admin/realms/demo/users/{id}")));
    let (status, _, again) = call(&server, Some(&admin), Method::POST, "/admin/realms/demo/users", Some(body)).await;
    assert_eq!(
        (status, again["errorMessage"].as_str()),
        (StatusCode::CONFLICT, Some("User exists with same username"))
    );

    let (_, _, dora) = get(&server, &admin, &format!("/admin/realms/demo/users/{id}")).await;
    assert_eq!((dora["username"].as_str(), dora["email"].as_str()), (Some("dora"), Some("dora@example.com")));
    let (_, _, found) = get(&server, &admin, "/admin/realms/demo/users/?search=DOR").await;
    assert_eq!(found.as_array().unwrap().len(), 1, "trailing slash and case-insensitive search");
    let (_, _, exact) = get(&server, &admin, "/admin/realms/demo/users?username=dor&exact=true").await;
    assert_eq!(exact, json!([]));
    assert_eq!(get(&server, &admin, "/admin/realms/demo/users/count").await.2, json!(6));

    // Dora signs in, then is disabled through the API: her session ends.
    let dora_token = token(&server, "demo", "dora", "dora-password").await;
    let (status, _, _) = call(
        &server,
        Some(&admin),
        Method::PUT,
        &format!("/admin/realms/demo/users/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &dora_token, "/admin/realms/demo").await.0, 401, "her token died with her session");
    let (_, total, _) = get(&server, &admin, &format!("/admin/realms/demo/users/{id}/sessions")).await;
    assert_eq!(total.as_deref(), Some("0"));

    // Roles: a realm-admin grants view-users; an auditor cannot grant anything.
    let manager = token(&server, "demo", "realm-manager", "manager-password").await;
    let path = format!("/admin/realms/demo/users/{id}/admin-roles");
    assert_eq!(call(&server, Some(&manager), Method::PUT, &path, Some(json!(["view-users"]))).await.0, 204);
    assert_eq!(get(&server, &manager, &path).await.2, json!(["view-users"]));
    assert_eq!(call(&server, Some(&manager), Method::PUT, &path, Some(json!(["admin"]))).await.0, 403);
    assert_eq!(
        call(&server, Some(&admin), Method::PUT, &path, Some(json!(["admin"]))).await.0,
        403,
        "not even by admin"
    );
    assert_eq!(call(&server, Some(&manager), Method::PUT, &path, Some(json!(["superuser"]))).await.0, 400);
    let auditor = token(&server, "demo", "auditor", "auditor-password").await;
    assert_eq!(call(&server, Some(&auditor), Method::PUT, &path, Some(json!([]))).await.0, 403);
    assert_eq!(call(&server, Some(&manager), Method::PUT, &path, Some(json!([]))).await.0, 204);
    assert_eq!(get(&server, &manager, &path).await.2, json!([]));

    assert_eq!(
        call(&server, Some(&admin), Method::DELETE, &format!("/admin/realms/demo/users/{id}"), None).await.0,
        204
    );
    assert_eq!(get(&server, &admin, &format!("/admin/realms/demo/users/{id}")).await.0, 404);
}

async fn clients_through_the_api(db: TestDb) {
    let (server, _) = demo(&db).await;
    let admin = master_token(&server).await;
    let body = json!({"clientId": "orders", "protocol": "openid-connect", "publicClient": false,
        "redirectUris": ["https://orders.example/cb"], "directAccessGrantsEnabled": true,
        "attributes": {"backchannel.logout.url": "https://orders.example/bcl", "backchannel.logout.session.required": "true"}});
    let answer =
        rp::http().post(server.url("/admin/realms/demo/clients")).bearer_auth(&admin).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let id = answer.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let secret: Value = answer.json().await.unwrap();
    let secret = secret["value"].as_str().expect("a generated secret, shown once").to_owned();
    let (_, _, client) = get(&server, &admin, &format!("/admin/realms/demo/clients/{id}")).await;
    assert_eq!(client["attributes"]["backchannel.logout.url"], "https://orders.example/bcl");
    assert!(client.get("secret").is_none(), "secrets are never returned");
    assert_eq!(client["publicClient"], false);

    // The generated secret works at the token endpoint.
    let tokens =
        server.password_grant("demo", ClientAuth::Basic("orders", &secret), "alice", "alice-password").await.body;
    assert!(tokens["access_token"].is_string(), "{tokens}");

    let (_, _, listed) = get(&server, &admin, "/admin/realms/demo/clients/?clientId=orders").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(call(&server, Some(&admin), Method::POST, "/admin/realms/demo/clients", Some(body)).await.0, 409);
    let bad = json!({"clientId": "x", "redirectUris": ["not a url"]});
    let (status, _, error) = call(&server, Some(&admin), Method::POST, "/admin/realms/demo/clients", Some(bad)).await;
    assert_eq!(status, 400);
    assert!(error["errorMessage"].as_str().unwrap().starts_with("redirectUris"), "{error}");
    // Created with its secret: the body is JSON `null`. A whole number may be written `300.0`.
    let given = json!({"clientId": "given", "secret": "given-secret", "notBefore": 300.0});
    let answer = rp::http()
        .post(server.url("/admin/realms/demo/clients"))
        .bearer_auth(&admin)
        .json(&given)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(answer.json::<Value>().await.unwrap(), Value::Null);
    let bad = json!({"clientId": "x", "notBefore": 300.5});
    assert_eq!(call(&server, Some(&admin), Method::POST, "/admin/realms/demo/clients", Some(bad)).await.0, 400);
    // A public client cannot have a service account: asked in one request, that is a 400; made
    // wrong only by what the client already is, a 409 (and a public client has no secret).
    let spa = json!({"clientId": "spa"});
    let answer =
        rp::http().post(server.url("/admin/realms/demo/clients")).bearer_auth(&admin).json(&spa).send().await.unwrap();
    let spa = answer.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let spa = format!("/admin/realms/demo/clients/{spa}");
    let both = json!({"publicClient": true, "serviceAccountsEnabled": true});
    assert_eq!(call(&server, Some(&admin), Method::PUT, &spa, Some(both)).await.0, 400);
    let account = json!({"serviceAccountsEnabled": true});
    assert_eq!(call(&server, Some(&admin), Method::PUT, &spa, Some(account)).await.0, 409);
    assert_eq!(call(&server, Some(&admin), Method::POST, &format!("{spa}/client-secret"), None).await.0, 409);

    let path = format!("/admin/realms/demo/clients/{id}");
    assert_eq!(call(&server, Some(&admin), Method::PUT, &path, Some(json!({"enabled": false}))).await.0, 204);
    // Its client sessions are removed behind the request, by the reaper.
    let mut session_count = Value::Null;
    for _ in 0..100 {
        session_count = get(&server, &admin, &format!("{path}/session-count")).await.2;
        if session_count == json!({"count": 0}) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(session_count, json!({"count": 0}), "a disabled client's sessions are gone");
    let (_, _, regenerated) = call(&server, Some(&admin), Method::POST, &format!("{path}/client-secret"), None).await;
    assert_eq!(regenerated["type"], "secret");
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    assert_eq!(get(&server, &admin, &path).await.0, 404);
}

async fn admin_writes_and_session_endings_are_audited(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let admin = master_token(&server).await;
    let body = json!({"username": "eve", "credentials": [{"type": "password", "value": "eve-secret-password"}]});
    assert_eq!(call(&server, Some(&admin), Method::POST, "/admin/realms/demo/users", Some(body)).await.0, 201);
    token(&server, "demo", "eve", "eve-secret-password").await;
    let store = db.store().await;
    let eve = users::find_by_username(store.conn(), realm.id, "eve").await.unwrap().unwrap();
    assert_eq!(
        call(&server, Some(&admin), Method::POST, &format!("/admin/realms/demo/users/{}/logout", eve.id), None).await.0,
        204
    );

    let (status, _, events) = get(&server, &admin, "/admin/realms/demo/admin-events").await;
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    let text = serde_json::to_string(events).unwrap();
    assert!(!text.contains("eve-secret-password"), "secrets are never written to the log");
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["operationType"].as_str().unwrap().to_owned(), e["resourceType"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ACTION".to_owned(), "USER".to_owned()),
            ("DELETE".to_owned(), "USER_SESSION".to_owned()),
            ("CREATE".to_owned(), "USER".to_owned()),
        ],
        "newest first: the logout, the session it ended, the creation"
    );
    let master = realms::find_by_name(store.conn(), "master").await.unwrap().unwrap();
    assert_eq!(events[0]["authDetails"]["realmId"], master.id.to_string());
    assert_eq!(events[0]["authDetails"]["clientId"], "admin-cli");
    assert_eq!(events[0]["resourcePath"], format!("users/{}/logout", eve.id));
    assert!(events[1]["representation"].as_str().unwrap().contains("USER_LOGOUT"));

    let (_, _, only_sessions) =
        get(&server, &admin, "/admin/realms/demo/admin-events?resourceTypes=USER_SESSION").await;
    assert_eq!(only_sessions.as_array().unwrap().len(), 1);

    // Ending one session is one action and one event, written with the ending, naming who.
    let eve_token = token(&server, "demo", "eve", "eve-secret-password").await;
    let sid = latchkey_tests::jwt_claims(&eve_token)["sid"].as_str().unwrap().to_owned();
    let path = format!("/admin/realms/demo/sessions/{sid}");
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    let (_, _, recorded) =
        get(&server, &admin, &format!("/admin/realms/demo/admin-events?resourcePath=sessions/{sid}")).await;
    let recorded = recorded.as_array().unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let master_admin_id =
        users::find_by_username(store.conn(), master.id, ADMIN_USER).await.unwrap().unwrap().id.to_string();
    assert_eq!(recorded[0]["authDetails"]["userId"], master_admin_id.as_str());
    assert!(recorded[0]["representation"].as_str().unwrap().contains("ADMIN_SIGN_OUT"));
    let auditor = token(&server, "demo", "auditor", "auditor-password").await;
    assert_eq!(get(&server, &auditor, "/admin/realms/demo/admin-events").await.0, 403);

    // Refused writes are recorded too, with who and the error; reads are not. Refusals of
    // callers without a valid token are counted, not stored (anyone could fill the table).
    let path = format!("/admin/realms/demo/users/{}", eve.id);
    assert_eq!(call(&server, Some(&auditor), Method::DELETE, &path, None).await.0, 403);
    let anonymous_before = server.life.unrecorded_refusals.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(call(&server, None, Method::POST, "/admin/realms/demo/logout-all", None).await.0, 401);
    let anonymous_after = server.life.unrecorded_refusals.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(anonymous_after, anonymous_before + 1);
    let taken = json!({"username": "alice"});
    assert_eq!(call(&server, Some(&admin), Method::POST, "/admin/realms/demo/users", Some(taken)).await.0, 409);
    assert_eq!(get(&server, &auditor, "/admin/realms/demo/users").await.0, 200);
    let (_, _, events) = get(&server, &admin, "/admin/realms/demo/admin-events?max=2").await;
    let refused: Vec<(&str, &str, &str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operationType"].as_str().unwrap(),
                e["resourcePath"].as_str().unwrap(),
                e["error"].as_str().unwrap_or("none"),
                e["authDetails"]["userId"].as_str().unwrap_or("anonymous"),
            )
        })
        .collect();
    let auditor_id = users::find_by_username(store.conn(), realm.id, "auditor").await.unwrap().unwrap().id.to_string();
    let master_admin = users::find_by_username(store.conn(), master.id, "admin").await.unwrap().unwrap().id.to_string();
    let users_path = format!("users/{}", eve.id);
    assert_eq!(
        refused,
        vec![
            ("CREATE", "users", "409: User exists with same username", master_admin.as_str()),
            ("DELETE", users_path.as_str(), "403: The 'manage-users' role is required", auditor_id.as_str()),
        ]
    );

    // Keycloak's date filters: whole days, UTC; epoch milliseconds too; anything else is a 400.
    let today = latchkey_domain::Timestamp::now().as_secs() / 86_400;
    let day = |offset: i64| {
        let (y, m, d) = civil(today + offset);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let count = |q: String| {
        let server = &server;
        let admin = &admin;
        async move { get(server, admin, &format!("/admin/realms/demo/admin-events?{q}")).await.2.as_array().map(Vec::len) }
    };
    let all = count(String::new()).await;
    assert_eq!(count(format!("dateFrom={}&dateTo={}", day(0), day(0))).await, all);
    assert_eq!(count(format!("dateFrom={}", day(1))).await, Some(0));
    assert_eq!(count(format!("dateTo={}", day(-1))).await, Some(0));
    assert_eq!(
        count(format!("dateFrom={}", latchkey_domain::Timestamp::now().plus_secs(-3600).as_millis())).await,
        all
    );
    let (status, _, body) = get(&server, &admin, "/admin/realms/demo/admin-events?dateFrom=2026-02-30").await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("dateFrom: '2026-02-30'"));
}

/// (year, month, day) of a count of days since 1970-01-01.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

async fn realms_are_created_and_deleted_by_the_master_admin_only(db: TestDb) {
    let (server, _) = demo(&db).await;
    let admin = master_token(&server).await;
    let body = json!({"realm": "acme", "displayName": "ACME", "ssoSessionIdleTimeout": 900});
    let answer = rp::http().post(server.url("/admin/realms")).bearer_auth(&admin).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["location"].to_str().unwrap(), server.url("/admin/realms/acme"));
    let (_, _, acme) = get(&server, &admin, "/admin/realms/acme").await;
    assert_eq!((acme["displayName"].as_str(), acme["ssoSessionIdleTimeout"].as_i64()), (Some("ACME"), Some(900)));
    let discovery = rp::http().get(server.url("/realms/acme/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(discovery.status(), 200, "a new realm is a provider at once");

    assert_eq!(call(&server, Some(&admin), Method::POST, "/admin/realms", Some(body)).await.0, 409);
    let (status, _, error) =
        call(&server, Some(&admin), Method::POST, "/admin/realms", Some(json!({"realm": "a b"}))).await;
    assert_eq!(status, 400);
    assert!(error["errorMessage"].as_str().unwrap().starts_with("realm:"), "{error}");
    let manager = token(&server, "demo", "realm-manager", "manager-password").await;
    assert_eq!(call(&server, Some(&manager), Method::POST, "/admin/realms", Some(json!({"realm": "x"}))).await.0, 403);
    assert_eq!(call(&server, Some(&manager), Method::DELETE, "/admin/realms/demo", None).await.0, 403);
    assert_eq!(call(&server, Some(&admin), Method::DELETE, "/admin/realms/master", None).await.0, 409);
    assert_eq!(call(&server, Some(&admin), Method::DELETE, "/admin/realms/acme", None).await.0, 204);
    assert_eq!(get(&server, &admin, "/admin/realms/acme").await.0, 404);
}

/// As in Keycloak: the offline session a sign-in starts carries that sign-in's id (the token
/// response's `session_state`, the tokens' `sid`), so a script finds its own offline session
/// under that id and ends it with `isOffline=true`, leaving the sign-in; `isOffline=false` (or
/// none) means the regular one. A second application asking offline access in the same
/// sign-in joins the same offline session.
async fn an_offline_session_is_known_by_the_id_of_its_sign_in(db: TestDb) {
    use openidconnect::OAuth2TokenResponse;
    let (server, realm) = demo(&db).await;
    let web =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    let browser = Browser::new(&server);
    let (tokens, _) = code_flow(&web, &browser, &["openid", "offline_access"], "bob", "bob-password").await;
    let claims = |jwt: &str| -> Value {
        use base64::Engine;
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let sid = claims(tokens.access_token().secret())["sid"].as_str().unwrap().to_owned();
    let offline_token = tokens.refresh_token().unwrap().clone();
    assert_eq!(claims(offline_token.secret())["sid"], sid.as_str());
    assert_eq!(claims(offline_token.secret())["typ"], "Offline");

    let store = db.store().await;
    let client = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let bob = users::find_by_username(store.conn(), realm.id, "bob").await.unwrap().unwrap();
    let admin = master_token(&server).await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    };
    let offline_of_bob = format!("/admin/realms/demo/users/{}/offline-sessions/{}", bob.id, client.id);
    let sessions_of_bob = format!("/admin/realms/demo/users/{}/sessions", bob.id);
    assert_eq!(ids(&get(&server, &admin, &offline_of_bob).await.2), [sid.as_str()]);
    let offline_of_web = format!("/admin/realms/demo/clients/{}/offline-sessions", client.id);
    assert_eq!(ids(&get(&server, &admin, &offline_of_web).await.2), [sid.as_str()]);
    assert_eq!(ids(&get(&server, &admin, &sessions_of_bob).await.2), [sid.as_str()]);
    let (_, total, both) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?type=ALL").await;
    assert_eq!(total.as_deref(), Some("2"));
    let mut kinds: Vec<(String, String)> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["type"].as_str().unwrap().to_owned()))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [(sid.clone(), "OFFLINE".to_owned()), (sid.clone(), "REGULAR".to_owned())]);

    // The single-page app asks offline access in the same sign-in: it joins that offline session.
    let spa = relying_party(&server, "demo", "demo-spa", None, "http://localhost:5173/callback").await;
    let auth = authorization(&spa, &["openid", "offline_access"], &[]);
    let callback = browser.get(auth.url.as_str()).await;
    let spa_tokens = exchange(&spa, &callback, &auth).await;
    assert_eq!(claims(spa_tokens.refresh_token().unwrap().secret())["sid"], sid.as_str());
    let (_, _, stats) = get(&server, &admin, "/admin/realms/demo/client-session-stats").await;
    let offline_total: u64 =
        stats.as_array().unwrap().iter().map(|c| c["offline"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(offline_total, 2, "two applications in one offline session: {stats}");
    let (_, total, _) = get(&server, &admin, "/admin/realms/demo/ui-ext/sessions?type=OFFLINE").await;
    assert_eq!(total.as_deref(), Some("1"), "one offline session");

    // Ending the offline one by that id leaves the sign-in alive.
    let end_offline = format!("/admin/realms/demo/sessions/{sid}?isOffline=true");
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &end_offline, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &end_offline, None).await.0, StatusCode::NOT_FOUND);
    assert!(web.exchange_refresh_token(&offline_token).unwrap().request_async(&rp::http()).await.is_err());
    assert_eq!(get(&server, &admin, &offline_of_bob).await.2, json!([]));
    assert_eq!(ids(&get(&server, &admin, &sessions_of_bob).await.2), [sid.as_str()]);
    let introspected = server
        .introspect("demo", ClientAuth::Basic("demo-web", "demo-web-secret"), tokens.access_token().secret())
        .await;
    assert_eq!(introspected.body["active"], true, "the sign-in's own access token still works");

    // Without isOffline, Keycloak means the regular one.
    let end_regular = format!("/admin/realms/demo/sessions/{sid}");
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &end_regular, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(&server, &admin, &sessions_of_bob).await.2, json!([]));
    let introspected = server
        .introspect("demo", ClientAuth::Basic("demo-web", "demo-web-secret"), tokens.access_token().secret())
        .await;
    assert_eq!(introspected.body["active"], false);
}

/// Scripts grant admin roles as Keycloak has them: find the `realm-management` client, read
/// its roles, post them to the user's client role mappings. The grant is the same one
/// `admin-roles` shows and the admin API honours.
async fn admin_roles_are_granted_the_keycloak_way(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let admin = master_token(&server).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();

    let (status, _, found) = get(&server, &admin, "/admin/realms/demo/clients?clientId=realm-management").await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let management = found[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, &admin, &format!("/admin/realms/demo/clients/{management}")).await.2["clientId"],
        "realm-management"
    );
    let (_, _, listed) = get(&server, &admin, "/admin/realms/demo/clients").await;
    assert!(
        listed.as_array().unwrap().iter().all(|c| c["clientId"] != "realm-management"),
        "not a client to sign in to"
    );
    let (_, _, roles) = get(&server, &admin, &format!("/admin/realms/demo/clients/{management}/roles")).await;
    let names: BTreeSet<&str> = roles.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["manage-clients", "manage-realm", "manage-users", "realm-admin", "view-clients", "view-realm", "view-users"]
            .into()
    );
    let (status, _, view_users) =
        get(&server, &admin, &format!("/admin/realms/demo/clients/{management}/roles/view-users")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (view_users["clientRole"].as_bool(), view_users["containerId"].as_str()),
        (Some(true), Some(management.as_str()))
    );

    let mappings = format!("/admin/realms/demo/users/{}/role-mappings/clients/{management}", alice.id);
    assert_eq!(get(&server, &admin, &mappings).await.2, json!([]));
    assert_eq!(get(&server, &admin, &format!("{mappings}/available")).await.2.as_array().unwrap().len(), 7);
    let alice_token = token(&server, "demo", "alice", "alice-password").await;
    assert_eq!(get(&server, &alice_token, "/admin/realms/demo/users").await.0, StatusCode::FORBIDDEN);

    // Granted by id, as Keycloak's clients send the role they read.
    let (status, _, _) = call(&server, Some(&admin), Method::POST, &mappings, Some(json!([view_users]))).await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &admin, &mappings).await.2[0]["name"], "view-users");
    let (_, _, all) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/role-mappings", alice.id)).await;
    assert_eq!(all["clientMappings"]["realm-management"]["mappings"][0]["name"], "view-users");
    assert_eq!(
        get(&server, &admin, &format!("/admin/realms/demo/users/{}/admin-roles", alice.id)).await.2,
        json!(["view-users"])
    );
    let alice_token = token(&server, "demo", "alice", "alice-password").await;
    assert_eq!(get(&server, &alice_token, "/admin/realms/demo/users").await.0, StatusCode::OK, "the grant is honoured");

    // By name; the effective roles include what a role holds.
    let (status, _, _) =
        call(&server, Some(&admin), Method::POST, &mappings, Some(json!([{"name": "manage-clients"}]))).await;
    assert_eq!(status, 204);
    let (_, _, effective) = get(&server, &admin, &format!("{mappings}/composite")).await;
    let effective: BTreeSet<&str> = effective.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(effective, ["manage-clients", "view-clients", "view-users"].into());

    // Not a role of it, not a list, not allowed: clear answers, nothing changed.
    let (status, _, body) =
        call(&server, Some(&admin), Method::POST, &mappings, Some(json!([{"name": "superuser"}]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error_description"].as_str().unwrap_or_default().contains("superuser")
            || body.to_string().contains("superuser"),
        "{body}"
    );
    let (status, _, _) =
        call(&server, Some(&admin), Method::POST, &mappings, Some(json!({"name": "view-users"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let auditor = token(&server, "demo", "auditor", "auditor-password").await;
    let (status, _, _) =
        call(&server, Some(&auditor), Method::POST, &mappings, Some(json!([{"name": "realm-admin"}]))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(get(&server, &admin, &mappings).await.2.as_array().unwrap().len(), 2);

    let (status, _, _) =
        call(&server, Some(&admin), Method::DELETE, &mappings, Some(json!([{"name": "view-users"}, view_users]))).await;
    assert_eq!(status, 204);
    let left: Vec<String> = get(&server, &admin, &mappings)
        .await
        .2
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["manage-clients"]);

    // No client takes the name.
    let (status, _, _) = call(
        &server,
        Some(&admin),
        Method::POST,
        "/admin/realms/demo/clients",
        Some(json!({"clientId": "realm-management"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
