//! Abuse of the sign-in, client authentication, logout and token endpoints, made the way an
//! attacker makes it: parallel and distributed password guessing, secret guessing, a flood
//! of hashing work, a forged logout link, made-up key ids, and tables filled from outside.

use std::net::IpAddr;
use std::time::Duration;

use latchkey_domain::{SessionId, Timestamp};
use latchkey_store::events::{self, AdminEvent, EventQuery};
use latchkey_store::{login_failures, realms, sessions};
use latchkey_tests::calls::{post_form, ClientAuth};
use latchkey_tests::rp::{self, code_flow, relying_party, Browser, Step};
use latchkey_tests::{backend_tests, jwt_claims, TestDb, TestServer};
use openidconnect::core::CoreTokenResponse;
use openidconnect::TokenResponse;
use reqwest::StatusCode;
use uuid::Uuid;

const WEB_CALLBACK: &str = "http://localhost:3000/callback";

backend_tests!(
    parallel_guesses_cannot_pass_the_limit,
    guesses_from_many_addresses_never_lock_a_person_out_for_long,
    failures_age_out_and_their_counters_are_purged,
    client_secret_guessing_is_throttled_per_client_and_address,
    a_flood_of_hashing_is_refused_at_once_not_queued,
    a_logout_link_with_someone_elses_hint_asks_first,
    made_up_key_ids_do_not_reach_the_database,
    admin_events_past_their_retention_are_purged,
    made_up_usernames_add_nothing_once_the_address_is_refused,
    a_person_is_one_lane_by_username_or_email,
    an_ipv6_subscriber_counts_as_one_address,
);

/// The demo realm behind a trusted proxy on loopback, so each test request can come "from"
/// an address of its own (`X-Forwarded-For`).
async fn server(db: &TestDb, adjust: impl FnOnce(&mut latchkey_server::Config)) -> TestServer {
    TestServer::start_with(db, |c| {
        c.demo = true;
        c.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
        adjust(c);
    })
    .await
}

/// A password grant at the demo realm's `admin-cli` (public), from `address`.
async fn sign_in(server: &TestServer, user: &str, password: &str, address: &str) -> (StatusCode, Option<String>) {
    let form = [("grant_type", "password"), ("username", user), ("password", password)];
    let endpoint = rp::endpoint(server, "demo", "token");
    let answer = post_form(endpoint, ClientAuth::Public("admin-cli"), &form, &[("x-forwarded-for", address)]).await;
    (answer.status, answer.header("retry-after"))
}

async fn parallel_guesses_cannot_pass_the_limit(db: TestDb) {
    // Hashing slots enough for every guess: only the throttle may refuse here. A long first
    // wait, so however slowly a loaded machine answers the burst, it falls inside the wait.
    let server = server(&db, |c| {
        c.max_concurrent_hashes = 64;
        c.failure_wait = std::time::Duration::from_secs(120);
    })
    .await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (url, form) = (
            rp::endpoint(&server, "demo", "token"),
            [
                ("grant_type", "password".to_owned()),
                ("client_id", "admin-cli".to_owned()),
                ("username", "alice".to_owned()),
                ("password", format!("guess-{i}")),
            ],
        );
        guesses.spawn(async move {
            rp::http().post(url).header("x-forwarded-for", "10.9.0.1").form(&form).send().await.unwrap().status()
        });
    }
    let mut checked = 0;
    let mut throttled = 0;
    while let Some(status) = guesses.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((checked, throttled), (5, 15), "only the free attempts are checked, however parallel");
    assert_eq!(sign_in(&server, "alice", "alice-password", "10.9.0.2").await.0, StatusCode::OK, "from elsewhere");
    assert_eq!(sign_in(&server, "alice", "alice-password", "10.9.0.1").await.0, StatusCode::TOO_MANY_REQUESTS);
}

async fn guesses_from_many_addresses_never_lock_a_person_out_for_long(db: TestDb) {
    let server = server(&db, |_| {}).await;
    for i in 0..20 {
        let (status, _) = sign_in(&server, "bob", "wrong", &format!("10.8.0.{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    for i in 20..30 {
        let (status, retry_after) = sign_in(&server, "bob", "wrong", &format!("10.8.0.{i}")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let seconds: i64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&seconds), "the per-user wait is capped at a minute: {seconds}");
    }
    let (status, retry_after) = sign_in(&server, "bob", "bob-password", "192.168.7.7").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the real person waits too, but…");
    assert!(retry_after.unwrap().parse::<i64>().unwrap() <= 60, "…never longer than a minute");
}

async fn made_up_usernames_add_nothing_once_the_address_is_refused(db: TestDb) {
    let server = server(&db, |c| c.max_concurrent_hashes = 64).await;
    let store = db.store().await;
    let rows = || async { login_failures::count(store.conn()).await.unwrap() };
    // The address's 50 free failures, each with a name no one has.
    for i in 0..50 {
        let (status, _) = sign_in(&server, &format!("nobody-{i}"), "guess", "10.6.0.1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let after_free = rows().await;
    assert!(after_free <= 1 + 2 * 50, "{after_free}");
    // Refused from now on: the address lane refuses first and nothing else is written.
    for i in 50..80 {
        let (status, _) = sign_in(&server, &format!("nobody-{i}"), "guess", "10.6.0.1").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "guess {i}");
    }
    assert_eq!(rows().await, after_free, "refused guesses add no rows");
    // Another address is not affected.
    assert_eq!(sign_in(&server, "alice", "alice-password", "10.6.0.2").await.0, StatusCode::OK);
}

async fn a_person_is_one_lane_by_username_or_email(db: TestDb) {
    let server = server(&db, |_| {}).await;
    // Five wrong guesses by username, then one by email, from one address: one person, one lane.
    for i in 0..5 {
        assert_eq!(sign_in(&server, "bob", "wrong", "10.5.0.1").await.0, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let (status, retry_after) = sign_in(&server, "bob@demo.latchkey.test", "wrong", "10.5.0.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the email is the same person");
    assert!(retry_after.is_some());
}

async fn an_ipv6_subscriber_counts_as_one_address(db: TestDb) {
    let server = server(&db, |c| {
        c.max_concurrent_hashes = 64;
        c.trusted_proxies.push("::1".parse().unwrap());
    })
    .await;
    // Fifty made-up names, each from another address of one /64.
    for i in 0..50 {
        let (status, _) =
            sign_in(&server, &format!("nobody-{i}"), "guess", &format!("2001:db8:7:7::{:x}", i + 1)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let (status, _) = sign_in(&server, "nobody-else", "guess", "2001:db8:7:7:ffff::1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the /64 is one address");
    let (status, _) = sign_in(&server, "alice", "alice-password", "2001:db8:7:8::1").await;
    assert_eq!(status, StatusCode::OK, "the next /64 is another");
}

async fn failures_age_out_and_their_counters_are_purged(db: TestDb) {
    let server = server(&db, |_| {}).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let hour_ago = Timestamp::from_millis(Timestamp::now().as_millis() - 3_600_000);
    let carol = latchkey_store::users::find_by_username(store.conn(), realm.id, "carol").await.unwrap().unwrap();
    let (by_address, by_user) = (format!("user+ip:id:{}|10.7.0.1", carol.id), format!("user:id:{}", carol.id));
    for subject in [by_address.as_str(), by_user.as_str(), "user:name:guessed-name"] {
        for _ in 0..40 {
            login_failures::attempt(store.conn(), realm.id, subject, hour_ago, hour_ago, |_, _| None)
                .await
                .unwrap()
                .unwrap();
        }
    }
    assert_eq!(sign_in(&server, "carol", "carol-password", "10.7.0.1").await.0, StatusCode::OK, "old failures age out");
    server.life.reap(Timestamp::now()).await.unwrap();
    assert_eq!(login_failures::get(store.conn(), realm.id, "user:name:guessed-name").await.unwrap(), None, "purged");
}

async fn client_secret_guessing_is_throttled_per_client_and_address(db: TestDb) {
    let server = server(&db, |_| {}).await;
    let credentials = |secret: &str, address: &str| {
        rp::http()
            .post(rp::endpoint(&server, "demo", "token"))
            .header("x-forwarded-for", address.to_owned())
            .basic_auth("demo-web", Some(secret.to_owned()))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for i in 0..10 {
        assert_eq!(credentials(&format!("guess-{i}"), "10.6.0.1").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let refused = credentials("demo-web-secret", "10.6.0.1").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "even the right secret waits after ten failures");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(credentials("demo-web-secret", "10.6.0.2").await.unwrap().status(), StatusCode::OK, "another address");
}

async fn a_flood_of_hashing_is_refused_at_once_not_queued(db: TestDb) {
    let server = server(&db, |c| c.max_concurrent_hashes = 1).await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..40 {
        let url = rp::endpoint(&server, "demo", "token");
        flood.spawn(async move {
            let form = [
                ("grant_type", "password".to_owned()),
                ("client_id", "admin-cli".to_owned()),
                ("username", format!("nobody-{i}")),
                ("password", "guess".to_owned()),
            ];
            let answer =
                rp::http().post(url).header("x-forwarded-for", format!("10.5.{i}.1")).form(&form).send().await.unwrap();
            (answer.status(), answer.headers().get("retry-after").is_some())
        });
    }
    let mut busy = 0;
    while let Some(answer) = flood.join_next().await {
        match answer.unwrap() {
            (StatusCode::UNAUTHORIZED, _) => {}
            (StatusCode::SERVICE_UNAVAILABLE, retry_after) => {
                assert!(retry_after, "503 says when to come back");
                busy += 1;
            }
            (other, _) => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "with one hashing slot, forty checks at once cannot all wait their turn");
    assert_eq!(sign_in(&server, "alice", "alice-password", "10.5.200.1").await.0, StatusCode::OK, "afterwards, served");
}

async fn signed_in(server: &TestServer, browser: &Browser, user: &str) -> CoreTokenResponse {
    let rp = relying_party(server, "demo", "demo-web", Some("demo-web-secret"), WEB_CALLBACK).await;
    code_flow(&rp, browser, &["openid"], user, &format!("{user}-password")).await.0
}

async fn a_logout_link_with_someone_elses_hint_asks_first(db: TestDb) {
    let server = server(&db, |_| {}).await;
    let victim = Browser::new(&server);
    let alice = signed_in(&server, &victim, "alice").await;
    let attacker = signed_in(&server, &Browser::new(&server), "bob").await;
    let alice_sid: SessionId =
        jwt_claims(alice.id_token().unwrap().to_string().as_str())["sid"].as_str().unwrap().parse().unwrap();
    let store = db.store().await;
    let active = |sid: SessionId| {
        let store = store.clone();
        async move {
            sessions::find_user_session(store.conn(), sid).await.unwrap().unwrap().state
                == latchkey_domain::SessionState::Active
        }
    };

    // The attacker's own ID token in a link the victim's browser follows.
    let forged = format!("{}?id_token_hint={}", rp::endpoint(&server, "demo", "logout"), attacker.id_token().unwrap());
    let Step::Page { status, body } = victim.get(&forged).await else { panic!("a page, not a redirect") };
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<form"), "the person is asked: {body}");
    assert!(active(alice_sid).await, "and the victim's session is untouched");

    // The application's own hint signs its own session out without asking.
    let own = format!("{}?id_token_hint={}", rp::endpoint(&server, "demo", "logout"), alice.id_token().unwrap());
    let Step::Page { body, .. } = victim.get(&own).await else { panic!("the signed-out page") };
    assert!(!body.contains("<form"), "{body}");
    assert!(!active(alice_sid).await);
}

async fn made_up_key_ids_do_not_reach_the_database(db: TestDb) {
    use base64::Engine;
    let server = server(&db, |_| {}).await;
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(serde_json::json!({"sub": "x", "typ": "Bearer", "exp": 4_000_000_000_i64}));
    // Warm the realm's keys, then count reloads from here.
    rp::http().get(rp::endpoint(&server, "demo", "certs")).send().await.unwrap();
    let before = server.life.keys.reload_count();
    for i in 0..60 {
        let kid = if i % 2 == 0 { format!("made-up-{i}") } else { "made-up-again".to_owned() };
        let token = format!("{}.{payload}.c2ln", b64(serde_json::json!({"alg": "RS256", "kid": kid})));
        let answer = rp::http().get(rp::endpoint(&server, "demo", "userinfo")).bearer_auth(token).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    let reloads = server.life.keys.reload_count() - before;
    assert!(reloads <= 3, "60 made-up key ids within a moment cost {reloads} reloads");
}

async fn admin_events_past_their_retention_are_purged(db: TestDb) {
    let server = server(&db, |c| c.event_retention = Duration::from_secs(24 * 60 * 60)).await;
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let now = Timestamp::now().as_millis();
    let event = |age_ms: i64, path: &str| AdminEvent {
        id: Uuid::now_v7(),
        time: Timestamp::from_millis(now - age_ms),
        realm_id: realm.id,
        auth_realm_id: None,
        auth_client_id: None,
        auth_user_id: None,
        ip_address: None,
        operation_type: "ACTION".into(),
        resource_type: "REALM".into(),
        resource_path: path.into(),
        representation: None,
        error: None,
    };
    events::insert_many(store.conn(), &[event(2 * 86_400_000, "old"), event(60_000, "recent")]).await.unwrap();
    server.life.reap(Timestamp::now()).await.unwrap();
    let left = events::list(store.conn(), realm.id, &EventQuery::default(), 0, 100).await.unwrap();
    let paths: Vec<&str> = left.iter().map(|e| e.resource_path.as_str()).collect();
    assert!(paths.contains(&"recent") && !paths.contains(&"old"), "{paths:?}");
}
