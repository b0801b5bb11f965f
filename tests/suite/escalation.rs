//! The second trust pass, each attack made against the real server as an administrator with a
//! lesser role (or a person with none) would make it: taking a realm administrator's token
//! through a client whose name the admin API trusted, a service account found by a name,
//! ending a stronger administrator's session, locking every administrator out, taking another
//! person's sign-in by email, and filling the audit trail. Each failed on the code before.

use std::time::Duration;

use latchkey_domain::SessionEnd;
use latchkey_store::events::{self, EventQuery};
use latchkey_store::{clients, outbox, realms};
use latchkey_tests::calls::ClientAuth;
use latchkey_tests::receiver::Receiver;
use latchkey_tests::rp::{self, code_flow, relying_party, Browser, Step};
use latchkey_tests::{backend_tests, jwt_claims, TestDb, TestServer, ADMIN_USER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin::{call, demo, get, master_token, token};
use crate::trust::{user_id, user_with_roles};

backend_tests!(
    a_client_manager_cannot_take_an_administrators_token,
    a_service_account_belongs_to_its_client_not_to_a_name,
    a_stronger_administrators_session_is_not_a_user_managers_to_end,
    no_one_locks_every_administrator_out,
    a_username_cannot_be_another_persons_email,
    signed_in_people_cannot_fill_the_audit_trail,
    a_proxy_named_in_the_environment_never_carries_notifications,
    a_configured_notification_proxy_still_obeys_the_target_rules,
);

/// RFC 7636's example verifier and its S256 challenge: the attacker's own.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const EVIL: &str = "https://evil.example/cb";

async fn client_uuid(server: &TestServer, admin: &str, realm: &str, client_id: &str) -> String {
    let (_, _, found) = get(server, admin, &format!("/admin/realms/{realm}/clients?clientId={client_id}")).await;
    found[0]["id"].as_str().unwrap_or_else(|| panic!("no client {client_id}: {found}")).to_owned()
}

/// A link an attacker sends a realm administrator: the authorization endpoint for `client_id`
/// with the attacker's redirect URI and PKCE challenge.
fn crafted_link(server: &TestServer, client_id: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "{}?client_id={client_id}&response_type=code&scope=openid&state=s&code_challenge={CHALLENGE}\
         &code_challenge_method=S256&redirect_uri={}",
        rp::endpoint(server, "demo", "auth"),
        encode(EVIL)
    )
}

async fn a_client_manager_cannot_take_an_administrators_token(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "demo", "deployer", &["manage-clients"]).await;
    let deployer = token(&server, "demo", "deployer", "deployer-password").await;
    let manager = token(&server, "demo", "realm-manager", "manager-password").await;
    let console = client_uuid(&server, &root, "demo", "security-admin-console").await;
    let cli = client_uuid(&server, &root, "demo", "admin-cli").await;

    // 1. Point the realm's admin console at the attacker.
    let evil = json!({"redirectUris": ["/console/*", "https://evil.example/*"]});
    let path = format!("/admin/realms/demo/clients/{console}");
    let (status, _, error) = call(&server, Some(&deployer), Method::PUT, &path, Some(evil)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert!(error["errorMessage"].as_str().unwrap().contains("realm-admin"), "{error}");
    // Nor rename it, change its origins, or delete it or `admin-cli`.
    for (method, path, body) in [
        (Method::PUT, path.clone(), Some(json!({"name": "Renamed"}))),
        (Method::PUT, path.clone(), Some(json!({"webOrigins": ["https://evil.example"]}))),
        (Method::DELETE, path.clone(), None),
        (Method::DELETE, format!("/admin/realms/demo/clients/{cli}"), None),
    ] {
        let (status, _, error) = call(&server, Some(&deployer), method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
    }

    // 2. Or make a client of their own and give it a trusted name.
    let mine = json!({"clientId": "helper", "publicClient": true, "redirectUris": ["https://evil.example/*"]});
    let (status, _, _) = call(&server, Some(&deployer), Method::POST, "/admin/realms/demo/clients", Some(mine)).await;
    assert_eq!(status, StatusCode::CREATED);
    let helper = client_uuid(&server, &root, "demo", "helper").await;
    for reserved in ["admin-cli", "security-admin-console", "realm-management"] {
        let rename = json!({"clientId": reserved});
        let path = format!("/admin/realms/demo/clients/{helper}");
        let (status, _, error) = call(&server, Some(&deployer), Method::PUT, &path, Some(rename)).await;
        assert_eq!(status, StatusCode::CONFLICT, "rename into {reserved}: {error}");
        assert!(error["errorMessage"].as_str().unwrap().contains("reserved"), "{error}");
        let new = json!({"clientId": reserved, "publicClient": true});
        let (status, _, _) = call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(new)).await;
        assert_eq!(status, StatusCode::CONFLICT, "create {reserved}");
    }
    // Not even a realm administrator renames a trusted client out of its name.
    let out = json!({"clientId": "console-old"});
    let (status, _, _) = call(&server, Some(&manager), Method::PUT, &path, Some(out)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // 3. The realm administrator, signed in (an SSO cookie), follows the attacker's links: no
    //    code ever reaches the attacker's address.
    let browser = Browser::new(&server);
    let web =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    code_flow(&web, &browser, &["openid"], "realm-manager", "manager-password").await;
    match browser.get(&crafted_link(&server, "security-admin-console")).await {
        Step::Redirect(to) => assert!(!to.as_str().starts_with("https://evil.example"), "{to}"),
        Step::Page { status, .. } => assert_eq!(status, StatusCode::BAD_REQUEST),
        other => panic!("SSO joins without a page: {other:?}"),
    }
    // What the attacker's own client does receive is worthless to the admin API.
    let Step::Redirect(to) = browser.get(&crafted_link(&server, "helper")).await else { panic!("no redirect") };
    let code = to.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "helper"),
        ("code", code.as_str()),
        ("redirect_uri", EVIL),
        ("code_verifier", VERIFIER),
    ];
    let answer = rp::http().post(rp::endpoint(&server, "demo", "token")).form(&form).send().await.unwrap();
    let tokens: Value = answer.json().await.unwrap();
    let taken = tokens["access_token"].as_str().unwrap_or_else(|| panic!("{tokens}"));
    let (status, _, error) = get(&server, taken, "/admin/realms/demo/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");

    // The realm administrator still edits the trusted clients, and grants access explicitly.
    let fix = json!({"name": "Console"});
    assert_eq!(call(&server, Some(&manager), Method::PUT, &path, Some(fix)).await.0, StatusCode::NO_CONTENT);
    let (_, _, after) = get(&server, &root, &path).await;
    assert_eq!(after["redirectUris"], json!(["/console/*"]));
    assert_eq!(after["attributes"]["admin.api.access"], "true");
    let (_, _, helper_now) = get(&server, &root, &format!("/admin/realms/demo/clients/{helper}")).await;
    assert_eq!(helper_now["attributes"]["admin.api.access"], "false");
}

async fn a_service_account_belongs_to_its_client_not_to_a_name(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    let service_token = |client: &'static str, secret: &'static str| {
        let server = &server;
        async move {
            let form = [("grant_type", "client_credentials")];
            let answer = rp::http()
                .post(rp::endpoint(server, "demo", "token"))
                .basic_auth(client, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            let body: Value = answer.json().await.unwrap();
            jwt_claims(body["access_token"].as_str().unwrap_or_else(|| panic!("{client}: {body}")))
        }
    };
    let original = service_token("demo-web", "demo-web-secret").await;
    let original_sub = original["sub"].as_str().unwrap().to_owned();

    // A new client whose id differs from demo-web's in case only.
    let twin = json!({"clientId": "Demo-Web", "secret": "twin-secret", "publicClient": false,
        "serviceAccountsEnabled": true, "standardFlowEnabled": false});
    let (status, _, error) = call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(twin)).await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    let twin = service_token("Demo-Web", "twin-secret").await;
    assert_ne!(twin["sub"], original_sub.as_str(), "a new client never acts as another's account");

    // demo-web renamed, and a new client takes its old name: each keeps or gets its own.
    let web = client_uuid(&server, &root, "demo", "demo-web").await;
    let rename = json!({"clientId": "web-renamed"});
    let path = format!("/admin/realms/demo/clients/{web}");
    assert_eq!(call(&server, Some(&root), Method::PUT, &path, Some(rename)).await.0, StatusCode::NO_CONTENT);
    let heir = json!({"clientId": "demo-web", "secret": "heir-secret", "publicClient": false,
        "serviceAccountsEnabled": true, "standardFlowEnabled": false});
    assert_eq!(
        call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(heir)).await.0,
        StatusCode::CREATED
    );
    let heir = service_token("demo-web", "heir-secret").await;
    assert_ne!(heir["sub"], original_sub.as_str(), "a name does not carry an account to a new client");
    assert_ne!(heir["sub"], twin["sub"]);
    let renamed = service_token("web-renamed", "demo-web-secret").await;
    assert_eq!(renamed["sub"], original_sub.as_str(), "a renamed client keeps its account");
}

async fn a_stronger_administrators_session_is_not_a_user_managers_to_end(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "master", "helpdesk", &["manage-users"]).await;
    let plain = user_with_roles(&server, &root, "master", "plain", &[]).await;
    let helpdesk = token(&server, "master", "helpdesk", "helpdesk-password").await;
    token(&server, "master", "plain", "plain-password").await;
    let admin_id = user_id(&db, "master", ADMIN_USER).await;

    let session_of = |user: String| {
        let (server, root) = (&server, &root);
        async move {
            let (_, _, sessions) = get(server, root, &format!("/admin/realms/master/users/{user}/sessions")).await;
            sessions[0]["id"].as_str().unwrap_or_else(|| panic!("{sessions}")).to_owned()
        }
    };
    let admins = session_of(admin_id.clone()).await;
    let path = format!("/admin/realms/master/sessions/{admins}");
    let (status, _, error) = call(&server, Some(&helpdesk), Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert!(error["errorMessage"].as_str().unwrap().contains("admin"), "{error}");
    // Still alive: the administrator's token still works.
    assert_eq!(get(&server, &root, "/admin/realms/master/users").await.0, StatusCode::OK);
    // A session of a user holding nothing the user manager lacks is theirs to end.
    let plains = session_of(plain).await;
    let path = format!("/admin/realms/master/sessions/{plains}");
    assert_eq!(call(&server, Some(&helpdesk), Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
}

async fn no_one_locks_every_administrator_out(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "master", "operator", &["manage-realm"]).await;
    let operator = token(&server, "master", "operator", "operator-password").await;
    let admin_id = user_id(&db, "master", ADMIN_USER).await;

    for who in [&operator, &root] {
        let off = json!({"enabled": false});
        let (status, _, error) = call(&server, Some(who), Method::PUT, "/admin/realms/master", Some(off)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{error}");
        assert!(error["errorMessage"].as_str().unwrap().contains("master"), "{error}");
    }
    let (status, _, error) = call(&server, Some(&root), Method::DELETE, "/admin/realms/master", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    // The last user holding `admin` in master stays enabled, present and `admin`.
    let me = format!("/admin/realms/master/users/{admin_id}");
    let attempts = [
        (Method::PUT, me.clone(), Some(json!({"enabled": false}))),
        (Method::DELETE, me.clone(), None),
        (Method::PUT, format!("{me}/admin-roles"), Some(json!(["realm-admin"]))),
    ];
    for (method, path, body) in &attempts {
        let (status, _, error) = call(&server, Some(&root), method.clone(), path, body.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {error}");
        assert!(error["errorMessage"].as_str().unwrap().contains("last"), "{error}");
    }
    assert_eq!(get(&server, &root, "/admin/realms/master/users").await.0, StatusCode::OK, "still in");

    // With a second enabled `admin`, either may go; a disabled one does not count.
    let second = user_with_roles(&server, &root, "master", "second", &["admin"]).await;
    let path = format!("/admin/realms/master/users/{second}");
    let off = json!({"enabled": false});
    assert_eq!(call(&server, Some(&root), Method::PUT, &path, Some(off)).await.0, StatusCode::NO_CONTENT);
    let (method, path, body) = &attempts[0];
    assert_eq!(call(&server, Some(&root), method.clone(), path, body.clone()).await.0, StatusCode::CONFLICT);
    let on = json!({"enabled": true});
    let second_path = format!("/admin/realms/master/users/{second}");
    assert_eq!(call(&server, Some(&root), Method::PUT, &second_path, Some(on)).await.0, StatusCode::NO_CONTENT);
    let (method, path, body) = &attempts[2];
    assert_eq!(call(&server, Some(&root), method.clone(), path, body.clone()).await.0, StatusCode::NO_CONTENT);
}

async fn a_username_cannot_be_another_persons_email(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "demo", "helpdesk", &["manage-users"]).await;
    let helpdesk = token(&server, "demo", "helpdesk", "helpdesk-password").await;

    // A user named as Alice's email would win the sign-in Alice makes with her email.
    let hijack = json!({"username": "alice@demo.latchkey.test", "enabled": true,
        "credentials": [{"type": "password", "value": "attacker-password", "temporary": false}]});
    let (status, _, error) =
        call(&server, Some(&helpdesk), Method::POST, "/admin/realms/demo/users", Some(hijack)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let by_email = server
        .password_grant("demo", ClientAuth::Public("admin-cli"), "alice@demo.latchkey.test", "alice-password")
        .await;
    assert_eq!(by_email.status, StatusCode::OK, "Alice still signs in with her email: {}", by_email.body);

    // Nor an email that is another person's username, at creation or later.
    let other = json!({"username": "dora", "email": "bob", "enabled": true});
    let (status, _, _) = call(&server, Some(&helpdesk), Method::POST, "/admin/realms/demo/users", Some(other)).await;
    assert!(status == StatusCode::CONFLICT || status == StatusCode::BAD_REQUEST, "{status}");
    let dora = json!({"username": "dora", "email": "dora@example.com", "enabled": true});
    assert_eq!(
        call(&server, Some(&helpdesk), Method::POST, "/admin/realms/demo/users", Some(dora)).await.0,
        StatusCode::CREATED
    );
    // `bob@demo.latchkey.test` made a username first, then Bob's address given as an email.
    let named = json!({"username": "carol@example.com", "enabled": true});
    let (status, _, _) = call(&server, Some(&helpdesk), Method::POST, "/admin/realms/demo/users", Some(named)).await;
    assert_eq!(status, StatusCode::CREATED);
    let dora_id = user_id(&db, "demo", "dora").await;
    let path = format!("/admin/realms/demo/users/{dora_id}");
    let (status, _, error) =
        call(&server, Some(&helpdesk), Method::PUT, &path, Some(json!({"email": "carol@example.com"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
}

async fn signed_in_people_cannot_fill_the_audit_trail(db: TestDb) {
    let (server, _) = demo(&db).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let stored = || async { events::list(store.conn(), realm.id, &EventQuery::default(), 0, 1000).await.unwrap() };
    let before = stored().await.len();
    let counted = server.life.unrecorded_refusals.load(std::sync::atomic::Ordering::Relaxed);

    // Alice holds no admin role; every realm's admin-cli gives her a token all the same.
    let alice = token(&server, "demo", "alice", "alice-password").await;
    let long = "x".repeat(8_000);
    for i in 0..20 {
        let path = format!("/admin/realms/demo/users/{long}{i}");
        let body = json!({"firstName": "y".repeat(8_000)});
        assert!(call(&server, Some(&alice), Method::PUT, &path, Some(body)).await.0.is_client_error());
    }
    assert_eq!(stored().await.len(), before, "nothing stored for a caller who administers nothing here");
    let now = server.life.unrecorded_refusals.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(now, counted + 20, "but counted");

    // An administrator's refusal is stored, its path and error cut to a bounded length.
    let auditor = token(&server, "demo", "auditor", "auditor-password").await;
    let path = format!("/admin/realms/demo/users/{long}");
    assert!(call(&server, Some(&auditor), Method::DELETE, &path, None).await.0.is_client_error());
    let events = stored().await;
    assert_eq!(events.len(), before + 1);
    let newest = events.iter().max_by_key(|e| e.time).unwrap();
    assert!(newest.resource_path.chars().count() <= 513, "{}", newest.resource_path.len());
    assert!(newest.error.as_deref().unwrap().chars().count() <= 1025);
}

/// This machine's name, which resolves to loopback or a private address: a notification
/// target the server refuses unless private targets are allowed.
async fn inside_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let inside = tokio::net::lookup_host((host.as_str(), 0)).await.unwrap().all(|a| match a.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        std::net::IpAddr::V6(v6) => v6.is_loopback(),
    });
    assert!(inside, "{host} should resolve to loopback or a private address here");
    host
}

/// Points demo-web's back-channel logout at `url`, signs Alice in and ends her session; waits
/// until the notifier has tried (an error recorded, or delivered), and returns the error.
async fn notify_once(server: &TestServer, db: &TestDb, url: &str) -> Option<String> {
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    web.backchannel_logout_url = Some(url.to_owned());
    clients::update(store.conn(), &web).await.unwrap();
    let answer = server
        .password_grant("demo", ClientAuth::Basic("demo-web", "demo-web-secret"), "alice", "alice-password")
        .await;
    let sid = jwt_claims(answer.body["access_token"].as_str().unwrap())["sid"].as_str().unwrap().parse().unwrap();
    server.life.end_sessions(&realm, &[sid], SessionEnd::AdminSignOut).await.unwrap();
    for _ in 0..100 {
        let log = outbox::for_client(store.conn(), web.id, 100).await.unwrap();
        if let Some(message) = log.iter().find(|m| {
            m.url == url && (m.last_error.is_some() || m.status != latchkey_store::entity::outbox::Delivery::Pending)
        }) {
            return message.last_error.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the notifier never tried {url}");
}

async fn a_proxy_named_in_the_environment_never_carries_notifications(db: TestDb) {
    // A proxy in the server's environment (each test runs in a process of its own).
    let proxy = Receiver::start().await;
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        std::env::set_var(name, proxy.url(""));
    }
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.allow_private_targets = false;
    })
    .await;
    let target = Receiver::start().await;
    let url = format!("http://{}:{}/by-name", inside_name().await, target.address.port());
    let error = notify_once(&server, &db, &url).await;
    assert!(error.as_deref().is_some_and(|e| e.contains("no allowed address")), "{error:?}");
    assert!(proxy.received().is_empty(), "the proxy carried {:?}", proxy.received());
    assert!(target.received().is_empty());
}

async fn a_configured_notification_proxy_still_obeys_the_target_rules(db: TestDb) {
    let proxy = Receiver::start().await;
    let target = Receiver::start().await;
    let url = format!("http://{}:{}/by-name", inside_name().await, target.address.port());
    {
        let server = TestServer::start_with(&db, |c| {
            c.demo = true;
            c.allow_private_targets = false;
            c.notification_proxy = Some(proxy.url("").parse().unwrap());
        })
        .await;
        let error = notify_once(&server, &db, &url).await;
        assert!(error.as_deref().is_some_and(|e| e.contains("refused")), "{error:?}");
        assert!(proxy.received().is_empty(), "the proxy carried {:?}", proxy.received());
    }
    // Where the rules allow the target, the configured proxy carries it.
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.notification_proxy = Some(proxy.url("").parse().unwrap());
    })
    .await;
    let allowed = format!("http://{}:{}/allowed", inside_name().await, target.address.port());
    assert_eq!(notify_once(&server, &db, &allowed).await, None);
    assert!(proxy.received().iter().any(|r| r.path == "/allowed"), "{:?}", proxy.received());
    assert!(target.received().is_empty(), "went around the proxy");
}
