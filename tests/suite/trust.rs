//! Attacks on the real server, each the way an attacker (or a careless operator) would make
//! it: privilege escalation between administrators, tokens used where they do not belong,
//! replayed codes and refresh tokens, hostile redirect URIs, server-side request forgery, and a
//! forged `Host`. Each test failed on the code before its fix.

use std::sync::atomic::Ordering;
use std::time::Duration;

use latchkey_domain::{AdminRole, SessionEnd, Timestamp};
use latchkey_store::{clients, events, realms, users};
use latchkey_tests::calls::ClientAuth;
use latchkey_tests::receiver::Receiver;
use latchkey_tests::rp::{self, authorization, code_flow, relying_party, Browser, Step};
use latchkey_tests::{backend_tests, TestDb, TestServer};
use openidconnect::OAuth2TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin::{call, demo, get, master_token, token};

const WEB_CALLBACK: &str = "http://localhost:3000/callback";
const WEB: (&str, &str) = ("demo-web", "demo-web-secret");

backend_tests!(
    a_user_manager_cannot_take_over_a_stronger_administrator,
    master_clients_need_the_admin_role,
    the_admin_api_refuses_tokens_of_ordinary_applications,
    a_reused_refresh_token_ends_its_client_session_and_tells_the_app,
    a_replayed_code_revokes_what_it_issued,
    pkce_cannot_be_half_used_and_is_on_for_new_clients,
    saml_clients_take_no_part_in_oidc_flows,
    lifespans_are_bounded,
    hostile_redirect_uris_are_refused,
    a_percent_encoded_admin_path_is_still_the_admin_api,
    notifications_never_reach_internal_addresses,
    the_issuer_never_follows_the_host_header,
    a_realm_update_racing_logout_all_never_undoes_it,
    a_user_update_racing_a_disable_never_re_enables,
    answers_with_secrets_are_never_stored_and_https_is_strict,
);

/// Creates a user in `realm` with a password and these admin roles; returns its id.
pub(crate) async fn user_with_roles(
    server: &TestServer,
    admin: &str,
    realm: &str,
    name: &str,
    roles: &[&str],
) -> String {
    let body = json!({"username": name, "enabled": true,
        "credentials": [{"type": "password", "value": format!("{name}-password"), "temporary": false}]});
    let (status, _, _) =
        call(server, Some(admin), Method::POST, &format!("/admin/realms/{realm}/users"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, found) = get(server, admin, &format!("/admin/realms/{realm}/users?username={name}&exact=true")).await;
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/realms/{realm}/users/{id}/admin-roles");
    assert_eq!(call(server, Some(admin), Method::PUT, &path, Some(json!(roles))).await.0, StatusCode::NO_CONTENT);
    id
}

pub(crate) async fn user_id(db: &TestDb, realm: &str, name: &str) -> String {
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), realm).await.unwrap().unwrap();
    users::find_by_username(store.conn(), realm.id, name).await.unwrap().unwrap().id.to_string()
}

async fn a_user_manager_cannot_take_over_a_stronger_administrator(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "master", "helpdesk", &["manage-users"]).await;
    let plain = user_with_roles(&server, &root, "master", "plain", &[]).await;
    let helpdesk = token(&server, "master", "helpdesk", "helpdesk-password").await;
    let admin_id = user_id(&db, "master", latchkey_tests::ADMIN_USER).await;
    let admin_path = format!("/admin/realms/master/users/{admin_id}");

    let password = json!({"type": "password", "value": "taken-over-now", "temporary": false});
    let attempts = [
        (Method::PUT, format!("{admin_path}/reset-password"), Some(password.clone())),
        (Method::PUT, admin_path.clone(), Some(json!({"enabled": false}))),
        (Method::POST, format!("{admin_path}/logout"), None),
        (Method::DELETE, admin_path.clone(), None),
        (Method::PUT, format!("{admin_path}/admin-roles"), Some(json!([]))),
    ];
    for (method, path, body) in attempts {
        let (status, _, error) = call(&server, Some(&helpdesk), method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
    }
    // The administrator is untouched: still enabled, same password, still there.
    master_token(&server).await;
    // A user holding no role the user manager lacks is still the user manager's to manage.
    let path = format!("/admin/realms/master/users/{plain}/reset-password");
    assert_eq!(call(&server, Some(&helpdesk), Method::PUT, &path, Some(password)).await.0, StatusCode::NO_CONTENT);
}

async fn master_clients_need_the_admin_role(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    user_with_roles(&server, &root, "master", "integrator", &["manage-clients"]).await;
    let integrator = token(&server, "master", "integrator", "integrator-password").await;
    let (_, _, listed) =
        get(&server, &integrator, "/admin/realms/master/clients?clientId=security-admin-console").await;
    let console = listed[0]["id"].as_str().unwrap().to_owned();

    let evil = json!({"redirectUris": ["https://evil.example/*"]});
    let path = format!("/admin/realms/master/clients/{console}");
    assert_eq!(call(&server, Some(&integrator), Method::PUT, &path, Some(evil)).await.0, StatusCode::FORBIDDEN);
    let new = json!({"clientId": "backdoor", "publicClient": true, "redirectUris": ["https://evil.example/*"]});
    let (status, _, _) =
        call(&server, Some(&integrator), Method::POST, "/admin/realms/master/clients", Some(new)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, after) = get(&server, &root, &format!("/admin/realms/master/clients/{console}")).await;
    assert_eq!(after["redirectUris"], json!(["/console/*"]));
    // manage-clients still manages the clients of an ordinary realm.
    let (_, _, demo_clients) = get(&server, &root, "/admin/realms/demo/clients?clientId=demo-web").await;
    let web = demo_clients[0]["id"].as_str().unwrap();
    user_with_roles(&server, &root, "demo", "deployer", &["manage-clients"]).await;
    let deployer = token(&server, "demo", "deployer", "deployer-password").await;
    let rename = json!({"name": "Renamed"});
    let path = format!("/admin/realms/demo/clients/{web}");
    assert_eq!(call(&server, Some(&deployer), Method::PUT, &path, Some(rename)).await.0, StatusCode::NO_CONTENT);
    // …but does not let a client's tokens into the admin API: that takes realm-admin.
    let open = json!({"attributes": {"admin.api.access": "true"}});
    assert_eq!(call(&server, Some(&deployer), Method::PUT, &path, Some(open)).await.0, StatusCode::FORBIDDEN);
}

/// A token-endpoint request of a confidential client; the status and JSON answer.
async fn token_request(server: &TestServer, client: (&str, &str), form: &[(&str, &str)]) -> (StatusCode, Value) {
    let answer = rp::http()
        .post(rp::endpoint(server, "demo", "token"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

async fn password_grant(
    server: &TestServer,
    realm: &str,
    client: (&str, Option<&str>),
    user: &str,
    password: &str,
) -> Value {
    server.password_grant(realm, ClientAuth::of(client.0, client.1), user, password).await.body
}

async fn the_admin_api_refuses_tokens_of_ordinary_applications(db: TestDb) {
    let (server, realm) = demo(&db).await;
    // A realm administrator signs in to an ordinary application, which now holds their token.
    let at_app =
        password_grant(&server, "demo", ("demo-web", Some("demo-web-secret")), "realm-manager", "manager-password")
            .await;
    let stolen = at_app["access_token"].as_str().unwrap();
    let (status, _, error) = get(&server, stolen, "/admin/realms/demo/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert!(error["errorMessage"].as_str().unwrap().contains("demo-web"), "{error}");
    // The same administrator through Keycloak's admin client is let in.
    let own = token(&server, "demo", "realm-manager", "manager-password").await;
    assert_eq!(get(&server, &own, "/admin/realms/demo/users").await.0, StatusCode::OK);

    // A confidential client's service account holding admin roles (scripts with a secret).
    let store = db.store().await;
    let (_, service) = token_request(&server, WEB, &[("grant_type", "client_credentials")]).await;
    let account = users::find_by_username(store.conn(), realm.id, "service-account-demo-web").await.unwrap().unwrap();
    users::grant_role(store.conn(), account.id, AdminRole::ViewUsers, Timestamp::now()).await.unwrap();
    server.life.catalog_changed().await; // granted as this node grants: its caches follow
    let service_token = service["access_token"].as_str().unwrap();
    assert_eq!(get(&server, service_token, "/admin/realms/demo/users").await.0, StatusCode::OK);

    // An application a realm administrator explicitly allowed.
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let allow = json!({"attributes": {"admin.api.access": "true"}});
    let path = format!("/admin/realms/demo/clients/{}", web.id);
    assert_eq!(call(&server, Some(&own), Method::PUT, &path, Some(allow)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(&server, stolen, "/admin/realms/demo/users").await.0, StatusCode::OK);
}

async fn a_reused_refresh_token_ends_its_client_session_and_tells_the_app(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let receiver = Receiver::start().await;
    let store = db.store().await;
    let mut web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    web.backchannel_logout_url = Some(receiver.url("/bcl"));
    clients::update(store.conn(), &web).await.unwrap();

    let rp = relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let stolen = tokens.refresh_token().unwrap().clone();
    let rotated = rp.exchange_refresh_token(&stolen).unwrap().request_async(&rp::http()).await.unwrap();

    // The thief (or the app, if the thief was first) presents the rotated-out token again.
    let replay = [("grant_type", "refresh_token"), ("refresh_token", stolen.secret().as_str())];
    let (status, body) = token_request(&server, WEB, &replay).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    // Everything issued in that client session is dead, and the application was told.
    assert!(rp
        .exchange_refresh_token(rotated.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp::http())
        .await
        .is_err());
    let access = rotated.access_token().secret();
    let userinfo = rp::http().get(rp::endpoint(&server, "demo", "userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let told = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(told.len(), 1, "one logout token");
    let sid = latchkey_tests::jwt_claims(access)["sid"].clone();
    let logout = latchkey_tests::jwt_claims(&told[0].logout_token().unwrap());
    assert_eq!(logout["sid"], sid);
    let query = events::EventQuery { resource_types: vec!["USER_SESSION".into()], ..Default::default() };
    let recorded = events::list(store.conn(), realm.id, &query, 0, 10).await.unwrap();
    assert!(
        recorded.iter().any(|e| e.representation.as_deref().unwrap_or("").contains(SessionEnd::TokenReuse.as_str())),
        "the ending is an admin event: {recorded:?}"
    );
}

async fn a_replayed_code_revokes_what_it_issued(db: TestDb) {
    let (server, _) = demo(&db).await;
    let rp = relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await;
    let browser = Browser::new(&server);
    let auth = authorization(&rp, &["openid"], &[]);
    let login = browser.get(auth.url.as_str()).await;
    let callback = browser.sign_in(&login, "alice", "alice-password", false).await;
    let code = callback.query("code").unwrap();
    let verifier = auth.verifier.secret().as_str();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", WEB_CALLBACK),
        ("code_verifier", verifier),
    ];
    let (status, first) = token_request(&server, WEB, &exchange).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = token_request(&server, WEB, &exchange).await;
    assert_eq!((status, second["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())];
    let (status, _) = token_request(&server, WEB, &refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the tokens of a replayed code are revoked");
    let access = first["access_token"].as_str().unwrap();
    let userinfo = rp::http().get(rp::endpoint(&server, "demo", "userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}

async fn pkce_cannot_be_half_used_and_is_on_for_new_clients(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    let new = json!({"clientId": "legacy", "secret": "legacy-secret", "redirectUris": [WEB_CALLBACK]});
    let (status, _, _) = call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(new)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, found) = get(&server, &root, "/admin/realms/demo/clients?clientId=legacy").await;
    assert_eq!(found[0]["attributes"]["pkce.code.challenge.method"], "S256", "on for a new client");
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let browser = Browser::new(&server);
    let plain = format!(
        "{}?client_id=legacy&redirect_uri={WEB_CALLBACK}&response_type=code&scope=openid&state=s1",
        rp::endpoint(&server, "demo", "auth")
    );
    let refused = browser.get(&plain).await;
    assert_eq!(refused.query("error").as_deref(), Some("invalid_request"), "{refused:?}");

    // Switched off for this confidential client, a code issued without a challenge must not be
    // redeemed with a verifier (a downgrade an attacker injecting a code would use).
    let off = json!({"attributes": {"pkce.code.challenge.method": ""}});
    let path = format!("/admin/realms/demo/clients/{id}");
    assert_eq!(call(&server, Some(&root), Method::PUT, &path, Some(off)).await.0, StatusCode::NO_CONTENT);
    let login = browser.get(&plain).await;
    let callback = browser.sign_in(&login, "alice", "alice-password", false).await;
    let code = callback.query("code").unwrap_or_else(|| panic!("{callback:?}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CALLBACK),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ];
    let (status, body) = token_request(&server, ("legacy", "legacy-secret"), &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error_description"].as_str().unwrap().contains("without a challenge"), "{body}");
}

async fn saml_clients_take_no_part_in_oidc_flows(db: TestDb) {
    let (server, _) = demo(&db).await;
    let answer = password_grant(&server, "demo", ("demo-saml", None), "alice", "alice-password").await;
    assert_eq!(answer["error"], "invalid_client", "{answer}");
    let browser = Browser::new(&server);
    let auth = format!(
        "{}?client_id=demo-saml&redirect_uri=http://localhost:8000/saml/acs&response_type=code&scope=openid",
        rp::endpoint(&server, "demo", "auth")
    );
    let Step::Page { status, .. } = browser.get(&auth).await else { panic!("an error page, not a redirect") };
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn lifespans_are_bounded(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    for body in [
        json!({"offlineSessionMaxLifespan": i64::MAX}),
        json!({"ssoSessionIdleTimeout": 9_000_000_000_000_i64}),
        json!({"accessTokenLifespan": i64::MAX}),
        json!({"ssoSessionMaxLifespanRememberMe": i64::MAX}),
    ] {
        let (status, _, error) =
            call(&server, Some(&root), Method::PUT, "/admin/realms/demo", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(error["errorMessage"].as_str().unwrap().contains("seconds"), "{error}");
    }
    // The realm still issues tokens.
    let answer =
        password_grant(&server, "demo", ("demo-web", Some("demo-web-secret")), "alice", "alice-password").await;
    assert!(answer["access_token"].is_string(), "{answer}");
}

async fn hostile_redirect_uris_are_refused(db: TestDb) {
    let (server, _) = demo(&db).await;
    let root = master_token(&server).await;
    // A pattern that admits look-alike hosts cannot even be registered.
    for pattern in ["https://app.example.com*", "https://app.example.com/cb*", "https://*.example.com/"] {
        let body = json!({"clientId": "sloppy", "publicClient": true, "redirectUris": [pattern]});
        let (status, _, error) =
            call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pattern}: {error}");
    }
    let body = json!({"clientId": "app", "publicClient": true,
        "redirectUris": ["https://app.example.com/cb/*", "https://app.example.com/done"]});
    assert_eq!(
        call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(body)).await.0,
        StatusCode::CREATED
    );
    let hostile = [
        "https://app.example.com/cb/../admin",
        "https://app.example.com/cb/%2e%2e/admin",
        "https://app.example.com/cb/%2E%2E%2Fadmin",
        "https://app.example.com/cb/.%2e/admin",
        "https://app.example.com.evil.net/cb/x",
        "https://app.example.com@evil.net/cb/x",
        "https://evil.net\\@app.example.com/cb/x",
        "https://app.example.com/cbx",
        "https://app.example.com/done/x",
        "https://app.example.com/cb/x#fragment",
        "http://app.example.com/cb/x",
        "https://app.example.com:8443/cb/x",
    ];
    let browser = Browser::new(&server);
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for uri in hostile {
        let auth = format!(
            "{}?client_id=app&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256&redirect_uri={}",
            rp::endpoint(&server, "demo", "auth"),
            encode(uri)
        );
        match browser.get(&auth).await {
            Step::Page { status, .. } => assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}"),
            other => panic!("{uri} was accepted: {other:?}"),
        }
        let logout = format!(
            "{}?client_id=app&post_logout_redirect_uri={}",
            rp::endpoint(&server, "demo", "logout"),
            encode(uri)
        );
        match browser.get(&logout).await {
            Step::Page { status, .. } => assert_eq!(status, StatusCode::BAD_REQUEST, "logout to {uri}"),
            other => panic!("logout to {uri} was accepted: {other:?}"),
        }
    }
    let fine = format!(
        "{}?client_id=app&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256&redirect_uri={}",
        rp::endpoint(&server, "demo", "auth"),
        encode("https://app.example.com/cb/signed-in?x=1")
    );
    assert!(matches!(browser.get(&fine).await, Step::Login { .. }), "a URI under the pattern is accepted");
}

async fn a_percent_encoded_admin_path_is_still_the_admin_api(db: TestDb) {
    let (server, _) = demo(&db).await;
    let before = server.life.unrecorded_refusals.load(Ordering::Relaxed);
    for path in ["/%61dmin/realms/demo/users", "/admin/%72ealms/demo/users", "/%61%64%6d%69%6e/realms/demo/users"] {
        let answer = rp::http()
            .post(server.url(path))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}: authenticated before the body is read");
    }
    let after = server.life.unrecorded_refusals.load(Ordering::Relaxed);
    assert_eq!(after, before + 3, "and counted as refused admin writes");
}

async fn notifications_never_reach_internal_addresses(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.allow_private_targets = false;
        c.reaper_interval = Duration::from_millis(200);
    })
    .await;
    let root = master_token(&server).await;
    let receiver = Receiver::start().await;
    let targets = [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fe80::1]/x".to_owned(),
        receiver.url("/bcl"),
        "http://localhost:6379/".to_owned(),
        "http://10.0.0.7:8080/".to_owned(),
        "http://[::ffff:127.0.0.1]:22/".to_owned(),
    ];
    for target in &targets {
        for body in [
            json!({"clientId": "probe", "adminUrl": target}),
            json!({"clientId": "probe", "attributes": {"backchannel.logout.url": target}}),
        ] {
            let (status, _, error) =
                call(&server, Some(&root), Method::POST, "/admin/realms/demo/clients", Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {error}");
        }
    }
    // A URL stored before (or a name that resolves inside) is refused again at delivery.
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
    let inside = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .map(|mut a| a.all(|a| a.ip().is_loopback() || matches!(a.ip(), std::net::IpAddr::V4(v4) if v4.is_private())))
        .unwrap_or(false);
    let urls = [receiver.url("/by-address")]
        .into_iter()
        .chain(inside.then(|| format!("http://{host}:{}/by-name", receiver.address.port())));
    for url in urls {
        web.backchannel_logout_url = Some(url.clone());
        clients::update(store.conn(), &web).await.unwrap();
        let answer =
            password_grant(&server, "demo", ("demo-web", Some("demo-web-secret")), "alice", "alice-password").await;
        let sid = latchkey_tests::jwt_claims(answer["access_token"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        server.life.end_sessions(&realm, &[sid], SessionEnd::AdminSignOut).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(receiver.received().is_empty(), "{url} was called");
        let log = latchkey_store::outbox::for_client(store.conn(), web.id, 100).await.unwrap();
        let refused = log.iter().filter(|m| m.url == url).filter_map(|m| m.last_error.clone()).collect::<Vec<_>>();
        assert!(refused.iter().any(|e| e.contains("refused") || e.contains("no allowed address")), "{url}: {log:?}");
    }
}

async fn the_issuer_never_follows_the_host_header(db: TestDb) {
    let (server, _) = demo(&db).await;
    let discovery = server.discovery("demo", Some("evil.example")).await;
    assert_eq!(discovery["issuer"], rp::issuer(&server, "demo"));
    assert!(discovery["token_endpoint"].as_str().unwrap().starts_with(&server.url("/")), "{discovery}");
    let answer = rp::http()
        .post(rp::endpoint(&server, "demo", "token"))
        .header("host", "evil.example")
        .basic_auth("demo-web", Some("demo-web-secret"))
        .form(&[("grant_type", "password"), ("username", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    let tokens: Value = answer.json().await.unwrap();
    assert_eq!(
        latchkey_tests::jwt_claims(tokens["access_token"].as_str().unwrap())["iss"],
        rp::issuer(&server, "demo")
    );
}

async fn a_realm_update_racing_logout_all_never_undoes_it(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let root = master_token(&server).await;
    let store = db.store().await;
    for i in 0..20 {
        let started = Timestamp::now();
        let rename = json!({"displayName": format!("Demo {i}")});
        let (ended, renamed) = tokio::join!(
            call(&server, Some(&root), Method::POST, "/admin/realms/demo/logout-all", None),
            call(&server, Some(&root), Method::PUT, "/admin/realms/demo", Some(rename)),
        );
        assert_eq!((ended.0, renamed.0), (StatusCode::OK, StatusCode::NO_CONTENT));
        let after = realms::find_by_id(store.conn(), realm.id).await.unwrap().unwrap();
        assert!(
            after.session_cutoff.as_millis() >= started.as_millis() - 50 && after.not_before >= started.as_secs() - 1,
            "round {i}: the update put back an older cut-off ({:?}, not-before {})",
            after.session_cutoff,
            after.not_before
        );
        assert_eq!(after.display_name.as_deref(), Some(format!("Demo {i}").as_str()));
    }
    // Clearing the revocation policy leaves the cut-off where logout-all put it.
    let cutoff = realms::find_by_id(store.conn(), realm.id).await.unwrap().unwrap().session_cutoff;
    let clear = json!({"notBefore": 0});
    assert_eq!(
        call(&server, Some(&root), Method::PUT, "/admin/realms/demo", Some(clear)).await.0,
        StatusCode::NO_CONTENT
    );
    let after = realms::find_by_id(store.conn(), realm.id).await.unwrap().unwrap();
    assert_eq!((after.not_before, after.session_cutoff), (0, cutoff));
}

async fn a_user_update_racing_a_disable_never_re_enables(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let root = master_token(&server).await;
    let store = db.store().await;
    let eve = user_with_roles(&server, &root, "demo", "eve", &[]).await;
    let path = format!("/admin/realms/demo/users/{eve}");
    for i in 0..20 {
        let enable = json!({"enabled": true});
        assert_eq!(call(&server, Some(&root), Method::PUT, &path, Some(enable)).await.0, StatusCode::NO_CONTENT);
        let (disabled, renamed) = tokio::join!(
            call(&server, Some(&root), Method::PUT, &path, Some(json!({"enabled": false}))),
            call(&server, Some(&root), Method::PUT, &path, Some(json!({"firstName": format!("Eve {i}")}))),
        );
        assert_eq!((disabled.0, renamed.0), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
        let user = users::find_by_username(store.conn(), realm.id, "eve").await.unwrap().unwrap();
        assert!(!user.enabled, "round {i}: a rename re-enabled a user being disabled");
        assert_eq!(user.first_name.as_deref(), Some(format!("Eve {i}").as_str()));
    }
}

async fn answers_with_secrets_are_never_stored_and_https_is_strict(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.public_url = Some("https://id.example.test".into());
    })
    .await;
    let health = rp::http().get(server.url("/health/live")).send().await.unwrap();
    assert_eq!(health.headers()["strict-transport-security"], "max-age=31536000");
    let root = token(&server, "master", latchkey_tests::ADMIN_USER, latchkey_tests::ADMIN_PASSWORD).await;
    let created = rp::http()
        .post(server.url("/admin/realms/demo/clients"))
        .bearer_auth(&root)
        .json(&json!({"clientId": "with-secret", "publicClient": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["cache-control"], "no-store", "a generated secret is shown once, never cached");
    let id = created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let secret = rp::http()
        .post(server.url(&format!("/admin/realms/demo/clients/{id}/client-secret")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(secret.headers()["cache-control"], "no-store");
    let tokens = rp::http()
        .post(rp::endpoint(&server, "demo", "token"))
        .basic_auth("demo-web", Some("demo-web-secret"))
        .form(&[("grant_type", "password"), ("username", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.headers()["cache-control"], "no-store");

    let plain = TestServer::start_with(&TestDb::sqlite(), |c| c.demo = true).await;
    let health = rp::http().get(plain.url("/health/live")).send().await.unwrap();
    assert!(!health.headers().contains_key("strict-transport-security"), "no HSTS over plain http");
}
