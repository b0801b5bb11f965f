//! The OpenID Connect provider driven by a real relying party (the `openidconnect` crate) and
//! a cookie-keeping browser through the HTML sign-in form, on SQLite and PostgreSQL.

use latchkey_domain::{ClientKind, Protocol, Secret, SessionId, SessionState, SessionType, SigningAlgorithm, Which};
use latchkey_store::{clients, keys, realms, sessions, users};
use latchkey_tests::calls::{post_form, ClientAuth};
use latchkey_tests::rp::{self, authorization, code_flow, exchange, relying_party, Browser, Step};
use latchkey_tests::{backend_tests, TestDb, TestServer};
use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{AccessTokenHash, OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WEB_CALLBACK: &str = "http://localhost:3000/callback";
const SPA_CALLBACK: &str = "http://localhost:5173/app/callback";
const WEB_SECRET: &str = "demo-web-secret";

backend_tests!(
    the_code_flow_signs_in_through_the_form_and_stores_the_session,
    refresh_tokens_rotate_and_a_used_one_is_refused,
    logout_ends_the_session_for_introspection_refresh_and_the_cookie,
    a_second_client_joins_the_sso_session_silently,
    prompt_none_and_prompt_login,
    offline_access_outlives_the_browser_session,
    password_and_client_credentials_grants,
    bad_authorization_requests_never_redirect_to_untrusted_places,
    bad_token_requests_get_the_oauth_error_the_spec_names,
    sign_in_failures_look_alike_and_are_slowed_down,
    disabled_users_and_clients_cannot_sign_in,
    revocation_ends_the_client_session,
    keys_rotate_without_breaking_tokens_in_flight,
    a_realm_can_sign_with_es256,
    not_before_and_the_realm_cutoff_refuse_older_tokens,
    logout_without_proof_asks_the_person_first,
    the_sso_cookie_is_http_only_lax_and_scoped_to_the_realm,
    forwarded_addresses_are_believed_only_from_trusted_proxies,
    a_configured_public_url_is_the_issuer_and_https_makes_cookies_secure,
    expired_codes_are_refused,
    remember_me_is_offered_where_the_realm_allows_it,
);

async fn demo(db: &TestDb) -> TestServer {
    TestServer::start_with(db, |c| c.demo = true).await
}

async fn web_rp(server: &TestServer) -> rp::Rp {
    relying_party(server, "demo", "demo-web", Some(WEB_SECRET), WEB_CALLBACK).await
}

fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> Value {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

async fn introspect(server: &TestServer, token: &str) -> Value {
    let answer = server.introspect("demo", ClientAuth::Basic("demo-web", WEB_SECRET), token).await;
    assert_eq!(answer.status, 200);
    answer.body
}

async fn token_request(
    server: &TestServer,
    realm: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let answer = match basic {
        Some((id, secret)) => server.token_request(realm, ClientAuth::Basic(id, secret), form).await,
        None => post_form(rp::endpoint(server, realm, "token"), ClientAuth::None, form, &[]).await,
    };
    (answer.status, answer.body)
}

async fn refresh(server: &TestServer, refresh_token: &str) -> (StatusCode, Value) {
    token_request(
        server,
        "demo",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        Some(("demo-web", WEB_SECRET)),
    )
    .await
}

async fn the_code_flow_signs_in_through_the_form_and_stores_the_session(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let (tokens, auth) = code_flow(&rp, &browser, &["openid"], "alice", "alice-password").await;

    let id_token = tokens.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &auth.nonce).expect("the ID token verifies against certs");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "alice");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let raw_id = claims_of(&id_token.to_string());
    let sid: SessionId = raw_id["sid"].as_str().unwrap().parse().unwrap();
    assert_eq!(raw_id["azp"], "demo-web");
    assert!(raw_id["auth_time"].is_i64());
    assert_eq!(header_of(&id_token.to_string())["alg"], "RS256");
    let access = claims_of(tokens.access_token().secret());
    for claim in ["iss", "sub", "aud", "azp", "exp", "iat", "jti", "sid", "scope"] {
        assert!(!access[claim].is_null(), "access token lacks {claim}: {access}");
    }
    assert_eq!(access["sid"], raw_id["sid"]);

    let userinfo: CoreUserInfoClaims =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&rp::http()).await.unwrap();
    assert_eq!(userinfo.email().unwrap().as_str(), "alice@demo.latchkey.test");

    let store = db.store().await;
    let session = sessions::find_user_session(store.conn(), sid).await.unwrap().expect("the session is stored");
    assert_eq!((session.session_type, session.state), (SessionType::Regular, SessionState::Active));
    assert_eq!(session.ip_address, "127.0.0.1");
    assert_eq!(session.user_agent.as_deref(), Some("latchkey-test-browser/1.0"));
    let client_sessions = sessions::client_sessions_of(store.conn(), sid).await.unwrap();
    assert_eq!(client_sessions.len(), 1);
    assert_eq!(client_sessions[0].redirect_uri.as_deref(), Some(WEB_CALLBACK));
}

async fn refresh_tokens_rotate_and_a_used_one_is_refused(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "bob", "bob-password").await;
    let first = tokens.refresh_token().unwrap().clone();
    let second = rp.exchange_refresh_token(&first).unwrap().request_async(&rp::http()).await.expect("a refresh");
    let second_rt = second.refresh_token().unwrap();
    assert_ne!(second_rt.secret(), first.secret(), "a new refresh token each time");
    assert_eq!(claims_of(second.access_token().secret())["sid"], claims_of(tokens.access_token().secret())["sid"]);

    let (status, body) = refresh(&server, first.secret()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().starts_with("Stale token"), "{body}");
    let third = rp.exchange_refresh_token(second_rt).unwrap().request_async(&rp::http()).await;
    assert!(third.is_err(), "a reused refresh token is a theft signal: the client session has ended");
}

async fn logout_ends_the_session_for_introspection_refresh_and_the_cookie(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let (tokens, _) = code_flow(&rp, &browser, &["openid"], "alice", "alice-password").await;
    let access = tokens.access_token().secret();
    assert_eq!(introspect(&server, access).await["active"], true);
    let refresh_token = tokens.refresh_token().unwrap().secret();
    assert_eq!(introspect(&server, refresh_token).await["active"], true);

    let id_token = tokens.id_token().unwrap().to_string();
    let logout = format!(
        "{}?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        rp::endpoint(&server, "demo", "logout"),
        WEB_CALLBACK
    );
    let back = browser.get(&logout).await.redirect();
    assert_eq!(back.as_str(), format!("{WEB_CALLBACK}?state=bye"));

    assert_eq!(introspect(&server, access).await, json!({"active": false}));
    assert_eq!(introspect(&server, refresh_token).await, json!({"active": false}));
    let (status, body) = refresh(&server, refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(body["error_description"], "Session not active");
    let userinfo = rp::http().get(rp::endpoint(&server, "demo", "userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), 401);

    let again = browser.get(authorization(&rp, &["openid"], &[]).url.as_str()).await;
    assert!(matches!(again, Step::Login { .. }), "a dead session's cookie leads to the sign-in page: {again:?}");

    let sid: SessionId = claims_of(access)["sid"].as_str().unwrap().parse().unwrap();
    let stored = sessions::find_user_session(db.store().await.conn(), sid).await.unwrap().unwrap();
    assert_eq!(stored.state, SessionState::Ended);
    assert_eq!(stored.end_reason, Some(latchkey_domain::SessionEnd::SignOut));
}

async fn a_second_client_joins_the_sso_session_silently(db: TestDb) {
    let server = demo(&db).await;
    let browser = Browser::new(&server);
    let web = web_rp(&server).await;
    let (web_tokens, _) = code_flow(&web, &browser, &["openid"], "carol", "carol-password").await;

    let spa = relying_party(&server, "demo", "demo-spa", None, SPA_CALLBACK).await;
    let auth = authorization(&spa, &["openid"], &[]);
    let callback = browser.get(auth.url.as_str()).await;
    assert!(matches!(callback, Step::Redirect(_)), "no sign-in page the second time: {callback:?}");
    let spa_tokens = exchange(&spa, &callback, &auth).await;

    let sid = claims_of(web_tokens.access_token().secret())["sid"].clone();
    assert_eq!(claims_of(spa_tokens.access_token().secret())["sid"], sid, "one SSO session");
    let sid: SessionId = sid.as_str().unwrap().parse().unwrap();
    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let spa_client = clients::find_by_client_id(store.conn(), demo.id, "demo-spa").await.unwrap().unwrap();
    let joined = sessions::client_sessions_of(store.conn(), sid).await.unwrap();
    assert_eq!(joined.len(), 2);
    assert!(joined.iter().any(|c| c.client_id == spa_client.id));
}

async fn prompt_none_and_prompt_login(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);

    let silent = browser.get(authorization(&rp, &["openid"], &[("prompt", "none")]).url.as_str()).await;
    assert_eq!(silent.query("error").as_deref(), Some("login_required"));
    assert!(silent.redirect().as_str().starts_with(WEB_CALLBACK));

    code_flow(&rp, &browser, &["openid"], "alice", "alice-password").await;
    let auth = authorization(&rp, &["openid"], &[("prompt", "none")]);
    let callback = browser.get(auth.url.as_str()).await;
    exchange(&rp, &callback, &auth).await;

    let forced = browser.get(authorization(&rp, &["openid"], &[("prompt", "login")]).url.as_str()).await;
    assert!(matches!(forced, Step::Login { .. }), "prompt=login asks again: {forced:?}");
}

async fn offline_access_outlives_the_browser_session(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let (tokens, _) = code_flow(&rp, &browser, &["openid", "offline_access"], "bob", "bob-password").await;
    let offline = tokens.refresh_token().unwrap().clone();
    let offline_claims = claims_of(offline.secret());
    assert_eq!(offline_claims["typ"], "Offline");
    // As in Keycloak, the offline session is known by the id of the sign-in that started it.
    let browser_sid = claims_of(tokens.access_token().secret())["sid"].clone();
    assert_eq!(offline_claims["sid"], browser_sid);

    let store = db.store().await;
    let offline_id: SessionId = offline_claims["sid"].as_str().unwrap().parse().unwrap();
    let stored = sessions::find_by_public_id(store.conn(), offline_id, Which::Offline).await.unwrap().unwrap();
    assert_eq!(stored.session_type, SessionType::Offline);
    assert_eq!(stored.public_id(), offline_id);
    let regular = sessions::find_by_public_id(store.conn(), offline_id, Which::Regular).await.unwrap().unwrap();
    assert_eq!(regular.session_type, SessionType::Regular);
    assert_ne!(regular.id, stored.id, "two sessions, one id");

    let logout = format!("{}?id_token_hint={}", rp::endpoint(&server, "demo", "logout"), tokens.id_token().unwrap());
    assert!(matches!(browser.get(&logout).await, Step::Page { status: StatusCode::OK, .. }));
    let renewed = rp.exchange_refresh_token(&offline).unwrap().request_async(&rp::http()).await;
    let renewed = renewed.expect("the offline token works after the browser session ended");
    assert_eq!(claims_of(renewed.refresh_token().unwrap().secret())["typ"], "Offline");
    assert_eq!(introspect(&server, renewed.access_token().secret()).await["active"], true);
}

async fn password_and_client_credentials_grants(db: TestDb) {
    let server = demo(&db).await;
    // admin-cli in master, as every admin client does; empty code= and redirect_uri= tolerated.
    let (status, body) = token_request(
        &server,
        "master",
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", latchkey_tests::ADMIN_USER),
            ("password", latchkey_tests::ADMIN_PASSWORD),
            ("code", ""),
            ("redirect_uri", ""),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for field in ["access_token", "refresh_token", "session_state", "scope"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
    assert!(body["expires_in"].as_i64().unwrap() > 0 && body["refresh_expires_in"].as_i64().unwrap() > 0);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["not-before-policy"], 0);
    let access = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(access["realm_access"]["roles"], json!(["admin"]));

    let (_, auditor) = token_request(
        &server,
        "demo",
        &[("grant_type", "password"), ("username", "auditor"), ("password", "auditor-password")],
        Some(("demo-web", WEB_SECRET)),
    )
    .await;
    let access = claims_of(auditor["access_token"].as_str().unwrap());
    assert_eq!(access["resource_access"]["realm-management"]["roles"], json!(["view-users"]));
    let sid: SessionId = auditor["session_state"].as_str().unwrap().parse().unwrap();
    assert!(sessions::find_user_session(db.store().await.conn(), sid).await.unwrap().is_some());

    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "password"), ("client_id", "demo-spa"), ("username", "alice"), ("password", "alice-password")],
        None,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")));

    // A service account: a confidential client with service accounts on.
    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut robot =
        latchkey_domain::Client::new(demo.id, "robot", Protocol::OpenIdConnect, latchkey_domain::Timestamp::now())
            .unwrap();
    robot.kind = ClientKind::Confidential { secret: Secret::new("robot-secret").hash().unwrap() };
    robot.service_accounts = true;
    robot.standard_flow = false;
    clients::insert(store.conn(), &robot).await.unwrap();
    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "client_credentials"), ("client_id", "robot"), ("client_secret", "robot-secret")],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_null() && body["session_state"].is_null(), "no session: {body}");
    let access = claims_of(body["access_token"].as_str().unwrap());
    let account = users::find_by_username(store.conn(), demo.id, "service-account-robot").await.unwrap().unwrap();
    assert_eq!(access["sub"], account.id.to_string());
    assert!(access["sid"].is_null());
    assert_eq!(introspect(&server, body["access_token"].as_str().unwrap()).await["active"], true);
}

async fn bad_authorization_requests_never_redirect_to_untrusted_places(db: TestDb) {
    let server = demo(&db).await;
    let browser = Browser::new(&server);
    let auth = rp::endpoint(&server, "demo", "auth");
    let page = |step: Step| match step {
        Step::Page { status, body } => (status, body),
        other => panic!("expected an error page, got {other:?}"),
    };

    let (status, body) =
        page(browser.get(&format!("{auth}?client_id=nobody&redirect_uri={WEB_CALLBACK}&response_type=code")).await);
    assert_eq!(status, 400);
    assert!(body.contains("Client not found"));
    let (status, body) = page(
        browser
            .get(&format!("{auth}?client_id=demo-web&redirect_uri=https://evil.example/cb&response_type=code"))
            .await,
    );
    assert_eq!(status, 400);
    assert!(body.contains("Invalid parameter: redirect_uri"));
    let (status, _) = page(browser.get(&format!("{auth}?client_id=demo-web&response_type=code")).await);
    assert_eq!(status, 400);
    let long = "x".repeat(5000);
    let (status, body) =
        page(browser.get(&format!("{auth}?client_id=demo-web&redirect_uri={WEB_CALLBACK}&state={long}")).await);
    assert_eq!(status, 400);
    assert!(body.contains("state is longer than"));

    // Errors that are the client's own go back to its (valid) redirect URI.
    let back = |query: &str| format!("{auth}?client_id=demo-spa&redirect_uri={SPA_CALLBACK}&state=s1&{query}");
    let no_pkce = browser.get(&back("response_type=code&scope=openid")).await;
    assert_eq!(no_pkce.query("error").as_deref(), Some("invalid_request"));
    assert_eq!(no_pkce.query("state").as_deref(), Some("s1"));
    assert!(no_pkce.query("error_description").unwrap().contains("code_challenge"));
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let plain =
        browser.get(&back(&format!("response_type=code&code_challenge={challenge}&code_challenge_method=plain"))).await;
    assert_eq!(plain.query("error").as_deref(), Some("invalid_request"));
    let short = browser.get(&back("response_type=code&code_challenge=abc&code_challenge_method=S256")).await;
    assert_eq!(short.query("error").as_deref(), Some("invalid_request"));
    let token_flow = browser.get(&back("response_type=token")).await;
    assert_eq!(token_flow.query("error").as_deref(), Some("unsupported_response_type"));
    let scope = browser
        .get(&back(&format!(
            "response_type=code&scope=openid+superpowers&code_challenge={challenge}&code_challenge_method=S256"
        )))
        .await;
    assert_eq!(scope.query("error").as_deref(), Some("invalid_scope"));

    let missing_realm =
        rp::http().get(server.url("/realms/nowhere/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(missing_realm.status(), 404);
    assert_eq!(missing_realm.json::<Value>().await.unwrap()["error"], "not_found");
}

async fn bad_token_requests_get_the_oauth_error_the_spec_names(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let auth = authorization(&rp, &["openid"], &[]);
    let login = browser.get(auth.url.as_str()).await;
    let callback = browser.sign_in(&login, "alice", "alice-password", false).await;
    let code = callback.query("code").unwrap();
    let verifier = auth.verifier.secret().clone();
    let web = Some(("demo-web", WEB_SECRET));
    let exchange_with = |code: String, redirect: &'static str, verifier: String| {
        let server = &server;
        async move {
            token_request(
                server,
                "demo",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &verifier),
                ],
                web,
            )
            .await
        }
    };

    let (status, body) = exchange_with(code.clone(), "http://localhost:3000/other", verifier.clone()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, body) = exchange_with(code.clone(), WEB_CALLBACK, verifier.clone()).await;
    assert_eq!(body["error_description"], "Code not valid", "a code is burnt by its first use, even a failed one");

    let auth = authorization(&rp, &["openid"], &[]);
    let callback = browser.get(auth.url.as_str()).await;
    let code = callback.query("code").unwrap();
    let (_, body) =
        exchange_with(code.clone(), WEB_CALLBACK, "wrong-verifier-wrong-verifier-wrong-verifier-123".into()).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("PKCE"));

    let auth = authorization(&rp, &["openid"], &[]);
    let callback = browser.get(auth.url.as_str()).await;
    let code = callback.query("code").unwrap();
    let (status, _) = exchange_with(code.clone(), WEB_CALLBACK, auth.verifier.secret().clone()).await;
    assert_eq!(status, 200);
    let (_, body) = exchange_with(code, WEB_CALLBACK, auth.verifier.secret().clone()).await;
    assert_eq!(body["error_description"], "Code not valid", "codes are single-use");

    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "password"), ("username", "alice"), ("password", "x")],
        Some(("demo-web", "wrong")),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, body) =
        token_request(&server, "demo", &[("grant_type", "password"), ("client_id", "ghost")], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, body) =
        token_request(&server, "demo", &[("grant_type", "implicit"), ("client_id", "demo-spa")], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    let (status, body) = token_request(&server, "demo", &[("client_id", "demo-spa")], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) =
        token_request(&server, "demo", &[("grant_type", "refresh_token"), ("refresh_token", "not.a.jwt")], web).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let huge = "a".repeat(70 * 1024);
    let (status, body) = token_request(&server, "demo", &[("grant_type", "password"), ("username", &huge)], web).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "password"), ("username", &"u".repeat(400)), ("password", "p")],
        web,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

async fn sign_in_failures_look_alike_and_are_slowed_down(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let login = browser.get(authorization(&rp, &["openid"], &[]).url.as_str()).await;
    let message = |step: Step| match step {
        Step::Login { error, .. } => error.expect("an error message"),
        other => panic!("expected the sign-in page again, got {other:?}"),
    };
    let unknown = message(browser.sign_in(&login, "nobody", "whatever", false).await);
    let wrong = message(browser.sign_in(&login, "carol", "wrong", false).await);
    assert_eq!(unknown, wrong);
    assert_eq!(wrong, "Invalid username or password.");
    let by_email = browser.sign_in(&login, "Alice@demo.latchkey.test", "alice-password", false).await;
    assert!(matches!(by_email, Step::Redirect(_)), "the form takes an email address too: {by_email:?}");

    // No CSRF token: refused before the password is even looked at.
    let Step::Login { action, fields, .. } = &login else { unreachable!() };
    let without_csrf: Vec<_> = fields.iter().filter(|(k, _)| k != "csrf_token").cloned().collect();
    let mut form = without_csrf.clone();
    form.extend([("username".into(), "carol".into()), ("password".into(), "carol-password".into())]);
    let refused = Browser::new(&server).http.post(server.url(action)).form(&form).send().await.unwrap();
    assert!(refused.text().await.unwrap().contains("Your sign-in form has expired"));

    for _ in 0..4 {
        browser.sign_in(&login, "carol", "wrong", false).await;
    }
    let slowed = message(browser.sign_in(&login, "carol", "carol-password", false).await);
    assert!(slowed.starts_with("Too many failed sign-in attempts. Try again in"), "{slowed}");
    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "password"), ("username", "carol"), ("password", "carol-password")],
        Some(("demo-web", WEB_SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another user from another address is not affected.
    let other = Browser::new(&server);
    let (tokens, _) = code_flow(&rp, &other, &["openid"], "alice", "alice-password").await;
    assert!(tokens.refresh_token().is_some());
}

async fn disabled_users_and_clients_cannot_sign_in(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let (tokens, _) = code_flow(&rp, &browser, &["openid"], "bob", "bob-password").await;

    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut bob = users::find_by_username(store.conn(), demo.id, "bob").await.unwrap().unwrap();
    bob.enabled = false;
    users::update(store.conn(), &bob).await.unwrap();
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], false);
    let (_, body) = refresh(&server, tokens.refresh_token().unwrap().secret()).await;
    assert_eq!(body["error"], "invalid_grant");
    let login = Browser::new(&server).get(authorization(&rp, &["openid"], &[]).url.as_str()).await;
    let step = Browser::new(&server).sign_in(&login, "bob", "bob-password", false).await;
    assert!(matches!(step, Step::Login { .. }));

    // Disabled by an administrator (which every node's caches honour at once).
    let web = clients::find_by_client_id(store.conn(), demo.id, "demo-web").await.unwrap().unwrap();
    let admin = server.admin_token("master", "admin", latchkey_tests::ADMIN_PASSWORD).await;
    let path = format!("/admin/realms/demo/clients/{}", web.id);
    let disabled = server.admin_call(Some(&admin), reqwest::Method::PUT, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.body);
    let step = browser.get(authorization(&rp, &["openid"], &[]).url.as_str()).await;
    assert!(matches!(step, Step::Page { status: StatusCode::BAD_REQUEST, .. }), "{step:?}");
}

async fn revocation_ends_the_client_session(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let revoke = |token: String| {
        let server = &server;
        async move {
            rp::http()
                .post(rp::endpoint(server, "demo", "revoke"))
                .basic_auth("demo-web", Some(WEB_SECRET))
                .form(&[("token", token.as_str()), ("token_type_hint", "refresh_token")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(tokens.refresh_token().unwrap().secret().clone()).await, 200);
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], false);
    let (_, body) = refresh(&server, tokens.refresh_token().unwrap().secret()).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(revoke("garbage".into()).await, 200, "unknown tokens are not an error (RFC 7009)");
}

async fn keys_rotate_without_breaking_tokens_in_flight(db: TestDb) {
    let first = demo(&db).await;
    let rp = web_rp(&first).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&first), &["openid"], "alice", "alice-password").await;
    let old_kid = header_of(tokens.access_token().secret())["kid"].as_str().unwrap().to_owned();

    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let new_kid = latchkey_lifecycle::keys::rotate(&store, &demo).await.unwrap();
    let address = first.address;
    first.stop().await;
    // Another node at the same address, with nothing cached, sees both keys.
    let second = TestServer::start_with(&db, |c| c.listen = address).await;
    let rp = web_rp(&second).await;
    let certs: Value =
        rp::http().get(rp::endpoint(&second, "demo", "certs")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = certs["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    let userinfo: Result<CoreUserInfoClaims, _> =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&rp::http()).await;
    assert!(userinfo.is_ok(), "a token signed by the retired key still verifies");
    let (fresh, _) = code_flow(&rp, &Browser::new(&second), &["openid"], "bob", "bob-password").await;
    assert_eq!(header_of(fresh.access_token().secret())["kid"], new_kid.as_str());

    assert!(keys::delete(store.conn(), demo.id, &old_kid).await.unwrap());
    second.stop().await;
    let third = TestServer::start_with(&db, |c| c.listen = address).await;
    let answer = rp::http()
        .get(rp::endpoint(&third, "demo", "userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "once removed, the old key verifies nothing");
}

async fn a_realm_can_sign_with_es256(db: TestDb) {
    {
        let store = db.migrated_store().await;
        drop(TestServer::start_with(&db, |c| c.demo = true).await);
        let mut demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
        demo.signature_algorithm = SigningAlgorithm::Es256;
        realms::update(store.conn(), &demo).await.unwrap();
    }
    let server = TestServer::start(&db).await;
    let rp = web_rp(&server).await;
    let (tokens, auth) = code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let id_token = tokens.id_token().unwrap();
    assert_eq!(header_of(&id_token.to_string())["alg"], "ES256");
    id_token.claims(&rp.id_token_verifier(), &auth.nonce).expect("ES256 ID tokens verify against certs");
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], true);
}

async fn not_before_and_the_realm_cutoff_refuse_older_tokens(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let store = db.store().await;
    let mut demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    demo.session_cutoff = latchkey_domain::Timestamp::now();
    realms::update(store.conn(), &demo).await.unwrap();
    server.life.catalog_changed().await; // written as this node writes: its caches follow
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], false);
    let (_, body) = refresh(&server, tokens.refresh_token().unwrap().secret()).await;
    assert_eq!(body["error_description"], "Session not active");

    // Clearing the not-before policy afterwards brings nothing back: the cut-off is separate.
    demo.not_before = 0;
    realms::update(store.conn(), &demo).await.unwrap();
    server.life.catalog_changed().await;
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], false);

    let (fresh, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "bob", "bob-password").await;
    assert_eq!(introspect(&server, fresh.access_token().secret()).await["active"], true);
    let mut bob = users::find_by_username(store.conn(), demo.id, "bob").await.unwrap().unwrap();
    bob.not_before = latchkey_domain::Timestamp::now().as_secs() + 1;
    users::update(store.conn(), &bob).await.unwrap();
    assert_eq!(introspect(&server, fresh.access_token().secret()).await["active"], false);
}

async fn logout_without_proof_asks_the_person_first(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let (tokens, _) = code_flow(&rp, &browser, &["openid"], "alice", "alice-password").await;
    let url = format!(
        "{}?client_id=demo-web&post_logout_redirect_uri={WEB_CALLBACK}&state=s2",
        rp::endpoint(&server, "demo", "logout")
    );
    let Step::Page { status, body } = browser.get(&url).await else { panic!("expected a confirmation page") };
    assert_eq!(status, 200);
    assert!(body.contains("Do you want to sign out?"));
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], true, "nothing ended yet");

    // A forged submission (another browser, no CSRF cookie) ends nothing.
    let forged = Browser::new(&server).submit_form(&body).await;
    assert!(matches!(forged, Step::Page { status: StatusCode::BAD_REQUEST, .. }), "{forged:?}");
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], true);

    let back = browser.submit_form(&body).await.redirect();
    assert_eq!(back.as_str(), format!("{WEB_CALLBACK}?state=s2"));
    assert_eq!(introspect(&server, tokens.access_token().secret()).await["active"], false);

    let bad = browser
        .get(&format!(
            "{}?client_id=demo-web&post_logout_redirect_uri=https://evil.example/",
            rp::endpoint(&server, "demo", "logout")
        ))
        .await;
    assert!(matches!(bad, Step::Page { status: StatusCode::BAD_REQUEST, .. }), "{bad:?}");
}

async fn the_sso_cookie_is_http_only_lax_and_scoped_to_the_realm(db: TestDb) {
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let browser = Browser::new(&server);
    let login = browser.get(authorization(&rp, &["openid"], &[]).url.as_str()).await;
    let Step::Login { action, fields, .. } = &login else { panic!("{login:?}") };
    let mut form = fields.clone();
    form.extend([("username".into(), "alice".into()), ("password".into(), "alice-password".into())]);
    let answer = browser.http.post(server.url(action)).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("LATCHKEY_IDENTITY="))
        .expect("an SSO cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/realms/demo/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http has no Secure cookies: {cookie}");
    assert!(!cookie.contains("Max-Age"), "without remember-me the cookie ends with the browser: {cookie}");
}

async fn forwarded_addresses_are_believed_only_from_trusted_proxies(db: TestDb) {
    let password_grant = |server: &TestServer| {
        rp::http()
            .post(rp::endpoint(server, "demo", "token"))
            .basic_auth("demo-web", Some(WEB_SECRET))
            .header("x-forwarded-for", "198.51.100.4, 203.0.113.7")
            .form(&[("grant_type", "password"), ("username", "alice"), ("password", "alice-password")])
            .send()
    };
    let session_ip = |body: Value| {
        let db = &db;
        async move {
            let sid: SessionId = body["session_state"].as_str().unwrap().parse().unwrap();
            sessions::find_user_session(db.store().await.conn(), sid).await.unwrap().unwrap().ip_address
        }
    };
    let untrusting = demo(&db).await;
    let body: Value = password_grant(&untrusting).await.unwrap().json().await.unwrap();
    assert_eq!(session_ip(body).await, "127.0.0.1");
    untrusting.stop().await;

    let trusting = TestServer::start_with(&db, |c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let body: Value = password_grant(&trusting).await.unwrap().json().await.unwrap();
    assert_eq!(session_ip(body).await, "203.0.113.7", "the right-most address not a trusted proxy");
}

async fn a_configured_public_url_is_the_issuer_and_https_makes_cookies_secure(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.public_url = Some("https://id.example.test/auth".into());
    })
    .await;
    let discovery: Value = rp::http()
        .get(server.url("/realms/demo/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "https://id.example.test/auth/realms/demo");
    assert_eq!(discovery["token_endpoint"], "https://id.example.test/auth/realms/demo/protocol/openid-connect/token");

    let (_, answer, cookie) = sign_in_asking_to_be_remembered(&server).await;
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Max-Age=36000"), "remember-me keeps the cookie for the max lifespan: {cookie}");
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.contains("iss=https%3A%2F%2Fid.example.test%2Fauth%2Frealms%2Fdemo"), "{location}");
}

/// alice signs in at demo-web through the sign-in page, posting `rememberMe=on` whether or not
/// the page offers it: the page, the answer and its SSO cookie.
async fn sign_in_asking_to_be_remembered(server: &TestServer) -> (String, reqwest::Response, String) {
    let browser = Browser::new(server);
    let auth = format!(
        "{}?client_id=demo-web&redirect_uri={WEB_CALLBACK}&response_type=code&scope=openid\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        rp::endpoint(server, "demo", "auth")
    );
    let page = browser.http.get(&auth).send().await.unwrap().text().await.unwrap();
    let login = browser.get(&auth).await;
    let Step::Login { action, fields, .. } = &login else { panic!("{login:?}") };
    let mut form = fields.clone();
    form.extend([
        ("username".into(), "alice".into()),
        ("password".into(), "alice-password".into()),
        ("rememberMe".into(), "on".into()),
    ]);
    let answer = browser.http.post(server.url(action)).form(&form).send().await.unwrap();
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("LATCHKEY_IDENTITY="))
        .expect("an SSO cookie");
    (page, answer, cookie)
}

async fn expired_codes_are_refused(db: TestDb) {
    use latchkey_store::codes::{self, AuthCode};
    let server = demo(&db).await;
    let rp = web_rp(&server).await;
    let (tokens, _) = code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let sid: SessionId = claims_of(tokens.access_token().secret())["sid"].as_str().unwrap().parse().unwrap();
    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), demo.id, "demo-web").await.unwrap().unwrap();
    let code = "an-expired-code-an-expired-code-an-expired-code";
    let expired = AuthCode {
        code_hash: latchkey_oidc::authorize::code_hash(code),
        realm_id: demo.id,
        client_id: web.id,
        user_session_id: sid,
        redirect_uri: WEB_CALLBACK.into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        expires_at: latchkey_domain::Timestamp::now().plus_secs(-1),
    };
    codes::insert(store.conn(), &expired).await.unwrap();
    let (status, body) = token_request(
        &server,
        "demo",
        &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", WEB_CALLBACK)],
        Some(("demo-web", WEB_SECRET)),
    )
    .await;
    assert_eq!((status, body["error_description"].as_str()), (StatusCode::BAD_REQUEST, Some("Code not valid")));
}

/// `rememberMe` of the realm, as in Keycloak: the sign-in page offers it only where the realm
/// allows it, and a posted `rememberMe=on` is ignored elsewhere (no persistent SSO cookie, no
/// remember-me limits).
async fn remember_me_is_offered_where_the_realm_allows_it(db: TestDb) {
    let server = demo(&db).await;
    let admin = server.admin_token("master", "admin", latchkey_tests::ADMIN_PASSWORD).await;
    let realm = "/admin/realms/demo";
    assert_eq!(server.admin_call(Some(&admin), reqwest::Method::GET, realm, None).await.body["rememberMe"], true);
    async fn sign_in(server: &TestServer) -> (bool, bool) {
        let (page, _, cookie) = sign_in_asking_to_be_remembered(server).await;
        (page.contains("name=\"rememberMe\""), cookie.contains("Max-Age"))
    }
    assert_eq!(sign_in(&server).await, (true, true), "offered, and honoured");

    let off = server.admin_call(Some(&admin), reqwest::Method::PUT, realm, Some(json!({"rememberMe": false}))).await;
    assert_eq!(off.status, 204);
    assert_eq!(server.admin_call(Some(&admin), reqwest::Method::GET, realm, None).await.body["rememberMe"], false);
    assert_eq!(sign_in(&server).await, (false, false), "not offered, and a forged field is ignored");
    let bad = server.admin_call(Some(&admin), reqwest::Method::PUT, realm, Some(json!({"rememberMe": "yes"}))).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
