//! Every way a session ends, and every application told: a real HTTP receiver stands in for
//! the applications' back-channel logout endpoints and checks each logout token against the
//! realm's JWKS.

use std::time::Duration;

use latchkey_domain::{
    Client, ClientKind, Protocol, Realm, Secret, SessionEnd, SessionId, SessionState, Timestamp, User, Which,
};
use latchkey_lifecycle::ending::GlobalRequestResult;
use latchkey_store::{clients, outbox, realms, sessions, users};
use latchkey_tests::calls::{Answer, ClientAuth};
use latchkey_tests::receiver::{verify_logout_token, Receiver};
use latchkey_tests::rp::{self, authorization, code_flow, relying_party, Browser, Step};
use latchkey_tests::{backend_tests, TestDb, TestServer};
use openidconnect::core::CoreTokenResponse;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

const WEB_CALLBACK: &str = "http://localhost:3000/callback";
const SPA_CALLBACK: &str = "http://localhost:5173/cb";
const WAIT: Duration = Duration::from_secs(10);
/// The demo web application, a confidential client.
const WEB: ClientAuth = ClientAuth::Basic("demo-web", "demo-web-secret");

backend_tests!(
    signing_out_tells_every_backchannel_client_with_the_session,
    an_administrator_ending_one_session_tells_front_channel_clients_too,
    a_user_wide_ending_names_the_user_and_no_session,
    disabling_or_deleting_a_user_tells_its_clients,
    disabling_a_client_ends_its_client_sessions_behind_the_request,
    disabling_a_client_ends_every_batch_of_its_client_sessions,
    a_client_enabled_again_keeps_what_was_signed_in_since,
    revoking_an_offline_session_tells_its_client,
    expired_sessions_are_reaped_and_their_clients_told,
    logout_all_ends_everything_and_tells_everyone,
    a_receiver_that_was_down_gets_its_token_once_even_across_a_restart,
    two_nodes_deliver_each_notification_once,
    a_refresh_racing_an_ending_never_outlives_it,
    push_revocation_reaches_adapters,
    a_large_ending_is_announced_in_full_once,
);

struct Setup {
    server: TestServer,
    receiver: Receiver,
    realm: Realm,
}

/// The demo realm with demo-web and demo-spa reporting to one receiver.
async fn setup(db: &TestDb) -> Setup {
    let server = TestServer::start_with(db, |c| {
        c.demo = true;
        c.reaper_interval = Duration::from_millis(200);
    })
    .await;
    let receiver = Receiver::start().await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut introspector = Client::new(realm.id, "introspector", Protocol::OpenIdConnect, Timestamp::now()).unwrap();
    introspector.kind = ClientKind::Confidential { secret: Secret::new("introspector-secret").hash().unwrap() };
    clients::insert(store.conn(), &introspector).await.unwrap();
    for (client_id, path) in [("demo-web", "/web/bcl"), ("demo-spa", "/spa/bcl")] {
        let mut client = clients::find_by_client_id(store.conn(), realm.id, client_id).await.unwrap().unwrap();
        client.backchannel_logout_url = Some(receiver.url(path));
        clients::update(store.conn(), &client).await.unwrap();
    }
    Setup { server, receiver, realm }
}

async fn jwks(server: &TestServer) -> Value {
    rp::http().get(rp::endpoint(server, "demo", "certs")).send().await.unwrap().json().await.unwrap()
}

async fn sign_in(server: &TestServer, browser: &Browser, user: &str) -> CoreTokenResponse {
    let rp = relying_party(server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await;
    code_flow(&rp, browser, &["openid"], user, &format!("{user}-password")).await.0
}

fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sid_of(tokens: &CoreTokenResponse) -> SessionId {
    claims_of(tokens.access_token().secret())["sid"].as_str().unwrap().parse().unwrap()
}

async fn introspect(server: &TestServer, token: &str) -> bool {
    let answer = server.introspect("demo", ClientAuth::Basic("introspector", "introspector-secret"), token).await;
    answer.body["active"].as_bool().unwrap()
}

/// True when the token endpoint refuses the refresh token (`invalid_grant`, or `invalid_client`
/// once the client itself is disabled).
async fn refresh_fails(server: &TestServer, tokens: &CoreTokenResponse) -> bool {
    let refresh = tokens.refresh_token().unwrap().secret();
    let Answer { status, body, .. } = server.refresh_grant("demo", WEB, refresh).await;
    (status == 400 && body["error"] == "invalid_grant") || (status == 401 && body["error"] == "invalid_client")
}

/// Verifies every logout token received at `path` for `audience`, returning their claims.
async fn logout_tokens(setup: &Setup, path: &str, audience: &str) -> Vec<Value> {
    let jwks = jwks(&setup.server).await;
    let issuer = rp::issuer(&setup.server, "demo");
    setup
        .receiver
        .received()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| {
            assert_eq!(r.content_type, "application/x-www-form-urlencoded");
            verify_logout_token(&r.logout_token().expect("a logout_token"), &jwks, &issuer, audience)
        })
        .collect()
}

async fn signing_out_tells_every_backchannel_client_with_the_session(db: TestDb) {
    let setup = setup(&db).await;
    let browser = Browser::new(&setup.server);
    let tokens = sign_in(&setup.server, &browser, "alice").await;
    // demo-spa joins the same session.
    let spa = relying_party(&setup.server, "demo", "demo-spa", None, SPA_CALLBACK).await;
    let auth = authorization(&spa, &["openid"], &[]);
    rp::exchange(&spa, &browser.get(auth.url.as_str()).await, &auth).await;

    let logout =
        format!("{}?id_token_hint={}", rp::endpoint(&setup.server, "demo", "logout"), tokens.id_token().unwrap());
    browser.get(&logout).await;
    setup.receiver.wait_for(2, WAIT).await;

    let sid = sid_of(&tokens).to_string();
    let alice = claims_of(tokens.access_token().secret())["sub"].clone();
    for (path, audience) in [("/web/bcl", "demo-web"), ("/spa/bcl", "demo-spa")] {
        let got = logout_tokens(&setup, path, audience).await;
        assert_eq!(got.len(), 1, "{path}: {got:?}");
        assert_eq!(got[0]["sid"], sid.as_str());
        assert_eq!(got[0]["sub"], alice);
    }
    assert!(!introspect(&setup.server, tokens.access_token().secret()).await);
}

async fn an_administrator_ending_one_session_tells_front_channel_clients_too(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    let mut web = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap();
    web.frontchannel_logout = true;
    clients::update(store.conn(), &web).await.unwrap();

    let tokens = sign_in(&setup.server, &Browser::new(&setup.server), "bob").await;
    let other = sign_in(&setup.server, &Browser::new(&setup.server), "carol").await;
    let ended =
        setup.server.life.end_sessions(&setup.realm, &[sid_of(&tokens)], SessionEnd::AdminSignOut).await.unwrap();
    assert_eq!(ended, vec![sid_of(&tokens)]);
    setup.receiver.wait_for(1, WAIT).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["sid"], sid_of(&tokens).to_string());
    assert!(refresh_fails(&setup.server, &tokens).await);
    assert!(introspect(&setup.server, other.access_token().secret()).await, "other sessions live on");
    let stored = sessions::find_user_session(store.conn(), sid_of(&tokens)).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.end_reason), (SessionState::Ended, Some(SessionEnd::AdminSignOut)));
}

async fn a_user_wide_ending_names_the_user_and_no_session(db: TestDb) {
    let setup = setup(&db).await;
    let first = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    let second = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), setup.realm.id, "alice").await.unwrap().unwrap();
    let ended =
        setup.server.life.end_user_sessions(&setup.realm, &alice, SessionEnd::UserLogout, true, None).await.unwrap();
    assert_eq!(ended.len(), 2);
    setup.receiver.wait_for(1, WAIT).await;
    setup.server.life.reap(Timestamp::now()).await.unwrap(); // the job, if the reaper has not run it yet
    setup.server.outbox_settled(WAIT).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    assert_eq!(got.len(), 1, "one token for the user, not one per session: {got:?}");
    assert_eq!(got[0]["sub"], alice.id.to_string());
    assert!(got[0].get("sid").is_none(), "no sid when all of a user's sessions end: {}", got[0]);
    assert!(refresh_fails(&setup.server, &first).await && refresh_fails(&setup.server, &second).await);
    let alice = users::find_by_id(store.conn(), alice.id).await.unwrap().unwrap();
    assert!(alice.not_before >= Timestamp::now().as_secs() - 5, "user logout moves the user's not-before");
}

async fn disabling_or_deleting_a_user_tells_its_clients(db: TestDb) {
    let setup = setup(&db).await;
    let bob_tokens = sign_in(&setup.server, &Browser::new(&setup.server), "bob").await;
    let carol_tokens = sign_in(&setup.server, &Browser::new(&setup.server), "carol").await;
    let store = db.store().await;
    let bob = users::find_by_username(store.conn(), setup.realm.id, "bob").await.unwrap().unwrap();
    let carol = users::find_by_username(store.conn(), setup.realm.id, "carol").await.unwrap().unwrap();

    setup.server.life.update_user(&setup.realm, &bob, &User { enabled: false, ..bob.clone() }, None).await.unwrap();
    setup.server.life.delete_user(&setup.realm, &carol, None).await.unwrap();
    setup.receiver.wait_for(2, WAIT).await;
    let subjects: Vec<Value> =
        logout_tokens(&setup, "/web/bcl", "demo-web").await.into_iter().map(|c| c["sub"].clone()).collect();
    assert!(
        subjects.contains(&json!(bob.id.to_string())) && subjects.contains(&json!(carol.id.to_string())),
        "{subjects:?}"
    );
    assert!(!users::find_by_id(store.conn(), bob.id).await.unwrap().unwrap().enabled);
    assert!(users::find_by_id(store.conn(), carol.id).await.unwrap().is_none());
    assert!(refresh_fails(&setup.server, &bob_tokens).await && refresh_fails(&setup.server, &carol_tokens).await);
}

async fn disabling_a_client_ends_its_client_sessions_behind_the_request(db: TestDb) {
    let setup = setup(&db).await;
    let tokens = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    let store = db.store().await;
    let web = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap();
    setup.server.life.update_client(&setup.realm, &web, &Client { enabled: false, ..web.clone() }, None).await.unwrap();
    assert!(!introspect(&setup.server, tokens.access_token().secret()).await, "a disabled client's tokens die at once");
    setup.receiver.wait_for(1, WAIT).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["sid"], sid_of(&tokens).to_string());
    assert!(sessions::find_client_session(store.conn(), sid_of(&tokens), web.id).await.unwrap().is_none());
    assert!(refresh_fails(&setup.server, &tokens).await);
}

/// A client holding more client sessions than a batch, many with the same last access: the
/// job walks them from where each batch stopped and ends every one.
async fn disabling_a_client_ends_every_batch_of_its_client_sessions(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    let web = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap();
    let alice = users::find_by_username(store.conn(), setup.realm.id, "alice").await.unwrap().unwrap();
    let held = crate::admin::many_sessions(&db, &setup.realm, &alice, web.id, 1_200).await;
    setup.server.life.update_client(&setup.realm, &web, &Client { enabled: false, ..web.clone() }, None).await.unwrap();
    setup.server.life.reap(Timestamp::now()).await.unwrap();
    let mut left = 0;
    for id in &held {
        left += usize::from(sessions::find_client_session(store.conn(), *id, web.id).await.unwrap().is_some());
    }
    assert_eq!(left, 0, "of {} client sessions, {left} were not ended", held.len());
}

/// The job a disable leaves ends the client sessions held at that moment only: a client enabled
/// again before the job is done keeps its new sign-ins (the job is written here as a disable
/// leaves it, so the new sign-in certainly comes before the job runs).
async fn a_client_enabled_again_keeps_what_was_signed_in_since(db: TestDb) {
    use latchkey_store::jobs::{self, Job, JobKind};
    let setup = setup(&db).await;
    let before = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    let disabled_at = latchkey_domain::Timestamp::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = sign_in(&setup.server, &Browser::new(&setup.server), "bob").await;
    let store = db.store().await;
    let web = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap();
    let job = Job {
        id: uuid::Uuid::now_v7(),
        realm_id: setup.realm.id,
        kind: JobKind::ClientSessions,
        client_id: Some(web.id),
        cutoff: disabled_at,
        request_group: None,
        done_at: None,
    };
    jobs::insert(store.conn(), &job, disabled_at).await.unwrap();
    setup.server.life.reap(latchkey_domain::Timestamp::now()).await.unwrap();
    assert!(sessions::find_client_session(store.conn(), sid_of(&before), web.id).await.unwrap().is_none());
    assert!(
        sessions::find_client_session(store.conn(), sid_of(&since), web.id).await.unwrap().is_some(),
        "a sign-in after the disable is not the job's"
    );
    assert!(introspect(&setup.server, since.access_token().secret()).await);
    assert!(refresh_fails(&setup.server, &before).await);
}

async fn revoking_an_offline_session_tells_its_client(db: TestDb) {
    let setup = setup(&db).await;
    let rp = relying_party(&setup.server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await;
    let (tokens, _) =
        code_flow(&rp, &Browser::new(&setup.server), &["openid", "offline_access"], "bob", "bob-password").await;
    let offline = tokens.refresh_token().unwrap().secret().clone();
    let offline_sid = claims_of(&offline)["sid"].as_str().unwrap().to_owned();
    let status = rp::http()
        .post(rp::endpoint(&setup.server, "demo", "revoke"))
        .basic_auth("demo-web", Some("demo-web-secret"))
        .form(&[("token", offline.as_str())])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    setup.receiver.wait_for(1, WAIT).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["sid"], offline_sid.as_str());
    let store = db.store().await;
    let sid = offline_sid.parse().unwrap();
    let stored = sessions::find_by_public_id(store.conn(), sid, Which::Offline).await.unwrap().unwrap();
    assert_eq!(stored.end_reason, Some(SessionEnd::Revoked));
    let regular = sessions::find_by_public_id(store.conn(), sid, Which::Regular).await.unwrap().unwrap();
    assert_eq!(regular.state, SessionState::Active, "the sign-in sharing its id lives on");
}

async fn expired_sessions_are_reaped_and_their_clients_told(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    let mut realm = setup.realm.clone();
    realm.limits.sso_idle = 1;
    realms::update(store.conn(), &realm).await.unwrap();
    let tokens = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    setup.receiver.wait_for(1, Duration::from_secs(8)).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    assert_eq!(got.len(), 1, "expiry is announced like any other ending");
    assert_eq!(got[0]["sid"], sid_of(&tokens).to_string());
    let stored = sessions::find_user_session(store.conn(), sid_of(&tokens)).await.unwrap();
    assert!(stored.is_none_or(|s| s.end_reason == Some(SessionEnd::IdleTimeout)));
}

async fn logout_all_ends_everything_and_tells_everyone(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    // An adapter-style client with an admin URL, and a SAML client with a session.
    let mut adapter = Client::new(setup.realm.id, "legacy-app", Protocol::OpenIdConnect, Timestamp::now()).unwrap();
    adapter.kind = ClientKind::Confidential { secret: Secret::new("legacy-secret").hash().unwrap() };
    adapter.admin_url = Some(setup.receiver.url("/legacy"));
    clients::insert(store.conn(), &adapter).await.unwrap();
    let saml = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-saml").await.unwrap().unwrap();

    let browsers: Vec<Browser> = (0..3).map(|_| Browser::new(&setup.server)).collect();
    let mut signed_in = Vec::new();
    for (browser, user) in browsers.iter().zip(["alice", "bob", "carol"]) {
        signed_in.push(sign_in(&setup.server, browser, user).await);
    }
    let spa = relying_party(&setup.server, "demo", "demo-spa", None, SPA_CALLBACK).await;
    let auth = authorization(&spa, &["openid"], &[]);
    rp::exchange(&spa, &browsers[0].get(auth.url.as_str()).await, &auth).await;
    let saml_session = latchkey_domain::ClientSession {
        user_session_id: sid_of(&signed_in[1]),
        client_id: saml.id,
        realm_id: setup.realm.id,
        session_type: latchkey_domain::SessionType::Regular,
        started_at: Timestamp::now(),
        last_refresh: Timestamp::now(),
        scopes: vec![],
        redirect_uri: None,
        refresh_token_id: None,
    };
    sessions::insert_client_session(store.conn(), &saml_session).await.unwrap();

    // Answered once the adapter was told, not after every session was announced: the
    // back-channel clients holding sessions are pending, the SAML client cannot be told.
    let result = setup.server.life.logout_all(&setup.realm, WAIT, None).await.unwrap();
    assert_eq!(
        result,
        GlobalRequestResult {
            success_requests: vec![setup.receiver.url("/legacy/k_logout")],
            pending_requests: vec![setup.receiver.url("/spa/bcl"), setup.receiver.url("/web/bcl")],
            not_notified_clients: vec!["demo-saml".into()],
            ..Default::default()
        }
    );
    setup.server.outbox_settled(WAIT).await;
    for tokens in &signed_in {
        assert!(refresh_fails(&setup.server, tokens).await);
        assert!(!introspect(&setup.server, tokens.access_token().secret()).await);
    }
    let again = browsers[0]
        .get(
            authorization(
                &relying_party(&setup.server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await,
                &["openid"],
                &[],
            )
            .url
            .as_str(),
        )
        .await;
    assert!(matches!(again, Step::Login { .. }), "old SSO cookies lead to the sign-in page");

    let web_tokens = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    let mut sids: Vec<String> = web_tokens.iter().map(|c| c["sid"].as_str().unwrap().to_owned()).collect();
    sids.sort();
    let mut expected: Vec<String> = signed_in.iter().map(|t| sid_of(t).to_string()).collect();
    expected.sort();
    assert_eq!(sids, expected, "a logout token for every session");
    assert_eq!(logout_tokens(&setup, "/spa/bcl", "demo-spa").await.len(), 1);
    let k_logout = setup.receiver.received().into_iter().find(|r| r.path == "/legacy/k_logout").unwrap();
    let action = claims_of(&k_logout.body);
    assert_eq!((action["action"].as_str(), action["resource"].as_str()), (Some("LOGOUT"), Some("legacy-app")));

    // Clearing the not-before policy afterwards brings nothing back.
    let mut realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    assert!(realm.not_before > 0);
    realm.not_before = 0;
    realms::update(store.conn(), &realm).await.unwrap();
    for tokens in &signed_in {
        assert!(!introspect(&setup.server, tokens.access_token().secret()).await);
    }
    let fresh = sign_in(&setup.server, &Browser::new(&setup.server), "alice").await;
    assert!(introspect(&setup.server, fresh.access_token().secret()).await, "new sign-ins work");
}

async fn a_receiver_that_was_down_gets_its_token_once_even_across_a_restart(db: TestDb) {
    let first = TestServer::start_with(&db, |c| c.demo = true).await;
    let address = Receiver::vacant_address();
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    web.backchannel_logout_url = Some(format!("http://{address}/bcl"));
    clients::update(store.conn(), &web).await.unwrap();

    let tokens = sign_in(&first, &Browser::new(&first), "alice").await;
    first.life.end_sessions(&realm, &[sid_of(&tokens)], SessionEnd::AdminSignOut).await.unwrap();
    // The first attempt fails: nothing listens.
    let failed_once = async {
        loop {
            let log = outbox::for_client(store.conn(), web.id, 10).await.unwrap();
            if log.iter().any(|m| m.last_error.is_some()) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let log = tokio::time::timeout(WAIT, failed_once).await.expect("an attempt was made");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, outbox::Delivery::Pending, "a failed delivery is retried");

    // The server restarts; the receiver comes back; the token arrives, once.
    let server_address = first.address;
    first.stop().await;
    let second = TestServer::start_with(&db, |c| c.listen = server_address).await;
    let receiver = Receiver::start_on(address).await;
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    second.outbox_settled(WAIT).await;
    assert_eq!(receiver.received().len(), 1, "delivered once");
    let issuer = rp::issuer(&second, "demo");
    let claims = verify_logout_token(&got[0].logout_token().unwrap(), &jwks(&second).await, &issuer, "demo-web");
    assert_eq!(claims["sid"], sid_of(&tokens).to_string());
    let log = outbox::for_client(store.conn(), web.id, 10).await.unwrap();
    assert_eq!(log[0].status, outbox::Delivery::Delivered);
    assert!(log[0].attempts >= 2, "{:?}", log[0]);
}

async fn two_nodes_deliver_each_notification_once(db: TestDb) {
    let setup = setup(&db).await;
    // Nodes of one deployment share a public URL (so tokens from either carry one issuer).
    let public_url = setup.server.url("");
    let second = TestServer::start_with(&db, |c| c.public_url = Some(public_url)).await;
    let store = db.store().await;
    let mut session_ids = Vec::new();
    for _ in 0..12 {
        let answer = setup.server.password_grant("demo", WEB, "alice", "alice-password").await.body;
        session_ids.push(answer["session_state"].as_str().unwrap().parse::<SessionId>().unwrap());
    }
    // Both nodes race for the same outbox.
    let (a, b) = session_ids.split_at(6);
    let (ra, rb) = tokio::join!(
        setup.server.life.end_sessions(&setup.realm, a, SessionEnd::AdminSignOut),
        second.life.end_sessions(&setup.realm, b, SessionEnd::AdminSignOut),
    );
    assert_eq!(ra.unwrap().len() + rb.unwrap().len(), 12);
    setup.receiver.wait_for(12, WAIT).await;
    setup.server.outbox_settled(WAIT).await;
    let got = logout_tokens(&setup, "/web/bcl", "demo-web").await;
    let mut jtis: Vec<String> = got.iter().map(|c| c["jti"].as_str().unwrap().to_owned()).collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!((got.len(), jtis.len()), (12, 12), "every notification delivered, none twice");
    let delivered = outbox::for_client(
        store.conn(),
        clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap().id,
        100,
    )
    .await
    .unwrap();
    assert!(delivered.iter().all(|m| m.status == outbox::Delivery::Delivered));
}

async fn a_refresh_racing_an_ending_never_outlives_it(db: TestDb) {
    let setup = setup(&db).await;
    for _ in 0..3 {
        let tokens = sign_in(&setup.server, &Browser::new(&setup.server), "bob").await;
        let refresh = rp::http()
            .post(rp::endpoint(&setup.server, "demo", "token"))
            .basic_auth("demo-web", Some("demo-web-secret"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh_token().unwrap().secret().as_str()),
            ])
            .send();
        let sid = [sid_of(&tokens)];
        let ending = setup.server.life.end_sessions(&setup.realm, &sid, SessionEnd::AdminSignOut);
        let (refreshed, ended) = tokio::join!(refresh, ending);
        assert_eq!(ended.unwrap().len(), 1);
        let body: Value = refreshed.unwrap().json().await.unwrap();
        if let Some(new_access) = body["access_token"].as_str() {
            assert!(!introspect(&setup.server, new_access).await, "a token won in the race dies with the session");
            let new_refresh = body["refresh_token"].as_str().unwrap();
            let retry = setup.server.refresh_grant("demo", WEB, new_refresh).await.body;
            assert_eq!(retry["error"], "invalid_grant");
        } else {
            assert_eq!(body["error"], "invalid_grant");
        }
    }
}

async fn push_revocation_reaches_adapters(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    let mut adapter = Client::new(setup.realm.id, "legacy-app", Protocol::OpenIdConnect, Timestamp::now()).unwrap();
    adapter.admin_url = Some(setup.receiver.url("/legacy/"));
    clients::insert(store.conn(), &adapter).await.unwrap();
    let mut realm = setup.realm.clone();
    realm.not_before = Timestamp::now().as_secs();
    realms::update(store.conn(), &realm).await.unwrap();

    let result = setup.server.life.push_revocation(&realm, None, WAIT, None).await.unwrap();
    assert_eq!(result.success_requests, vec![setup.receiver.url("/legacy/k_push_not_before")]);
    assert_eq!(result.not_notified_clients, vec!["demo-saml".to_owned()]);
    let pushed = setup.receiver.received().into_iter().find(|r| r.path == "/legacy/k_push_not_before").unwrap();
    let action = claims_of(&pushed.body);
    assert_eq!(action["action"], "PUSH_NOT_BEFORE");
    assert_eq!(action["notBefore"], realm.not_before);

    setup.receiver.answer(503);
    let result = setup.server.life.push_revocation(&realm, Some(&adapter), WAIT, None).await.unwrap();
    assert_eq!(result.failed_requests, vec![setup.receiver.url("/legacy/k_push_not_before")]);
}

/// More sessions end at once than the notifier sends at a time (it claims 32 and sends 16 at
/// once): every one is announced, once.
async fn a_large_ending_is_announced_in_full_once(db: TestDb) {
    let setup = setup(&db).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), setup.realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), setup.realm.id, "demo-web").await.unwrap().unwrap();
    let ids = crate::admin::many_sessions(&db, &setup.realm, &alice, web.id, 150).await;
    setup.server.life.logout_all(&setup.realm, WAIT, None).await.unwrap();
    setup.server.life.reap(Timestamp::now()).await.unwrap();
    setup.server.outbox_settled(Duration::from_secs(30)).await;
    let mut sids: Vec<String> =
        logout_tokens(&setup, "/web/bcl", "demo-web").await.iter().map(|c| c["sid"].as_str().unwrap().into()).collect();
    sids.sort();
    let mut expected: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(sids, expected, "each of the 150 sessions announced exactly once");
}
