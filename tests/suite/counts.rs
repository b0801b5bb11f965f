//! The maintained session counts (`latchkey_store::counts`) against an exact count of the live
//! sessions, through every way sessions start and end: after each step, every count the admin
//! API answers from them (`session-count`, `offline-session-count`, `client-session-stats`,
//! list totals) equals what counting the sessions themselves gives.

use latchkey_domain::{ClientSession, Realm, SessionType, Timestamp, UserSession};
use latchkey_store::listing::{self, SessionFilter};
use latchkey_store::{clients, counts, outbox, realms, sessions, users};
use latchkey_tests::rp::{self, code_flow, relying_party, Browser};
use latchkey_tests::{backend_tests, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::{call, demo, get, held_by, many_sessions, master_token};

backend_tests!(
    maintained_counts_equal_an_exact_count_through_every_ending,
    a_seeded_realm_is_counted_and_listed,
    settled_buckets_are_forgotten_and_nothing_else,
    what_times_out_during_a_pass_is_ended_before_the_backlog,
    what_times_out_during_a_job_is_ended_between_its_batches,
    every_page_is_the_lists_slice_from_either_end,
);

/// Every count of the realm at `now` (a time to come, too: what will have timed out by then,
/// with the reaper not run), from the maintained counts and exactly, must agree, and the
/// realm's list must hold exactly the sessions alive then; returns the realm-wide total.
async fn assert_counts_exact_at(db: &TestDb, now: Timestamp, step: &str) -> u64 {
    let store = db.store().await;
    let realm: Realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    // One snapshot for both, as the API reads them: the reaper may end sessions meanwhile.
    let snapshot = store.snapshot().await.unwrap();
    let exact_stats = listing::client_stats_exact(&snapshot, &realm, now).await.unwrap();
    let stats = listing::client_stats(&snapshot, &realm, now).await.unwrap();
    assert_eq!(stats, exact_stats, "client-session-stats after {step}");
    let mut filters = vec![SessionFilter::default()];
    for client in clients::list(store.conn(), realm.id).await.unwrap() {
        for session_type in [None, Some(SessionType::Regular), Some(SessionType::Offline)] {
            filters.push(SessionFilter { client: Some(client.id), session_type, ..Default::default() });
        }
    }
    for session_type in [Some(SessionType::Regular), Some(SessionType::Offline)] {
        filters.push(SessionFilter { session_type, ..Default::default() });
    }
    // Searches and users' lists read the sessions they match: by username, clientId and
    // address, alone and with a type or a client.
    let first_client =
        clients::list(store.conn(), realm.id).await.unwrap().into_iter().find(|c| c.client_id == "demo-web");
    for term in ["a", "USER1", "demo-w", "demo", "10.", "127.0", "nobody"] {
        let search = Some(term.to_owned());
        filters.push(SessionFilter { search: search.clone(), ..Default::default() });
        filters.push(SessionFilter {
            search: search.clone(),
            session_type: Some(SessionType::Offline),
            ..Default::default()
        });
        filters.push(SessionFilter { search, client: first_client.as_ref().map(|c| c.id), ..Default::default() });
    }
    for name in ["alice", "bob", "carol", "user7"] {
        if let Some(user) = users::find_by_username(store.conn(), realm.id, name).await.unwrap() {
            filters.push(SessionFilter { user: Some(user.id), ..Default::default() });
            let search = Some("a".to_owned());
            filters.push(SessionFilter { user: Some(user.id), search, ..Default::default() });
        }
    }
    for filter in &filters {
        let maintained = listing::count(&snapshot, &realm, filter, now).await.unwrap();
        let exact = listing::count_exact(&snapshot, &realm, filter, now).await.unwrap();
        assert_eq!(maintained, exact, "count of {filter:?} after {step}");
        let listed = listing::list(&snapshot, &realm, filter, 0, 10_000, now).await.unwrap();
        assert_eq!(listed.len() as u64, exact, "list of {filter:?} after {step}");
        let cutoffs = latchkey_domain::Cutoffs {
            realm_not_before: realm.not_before,
            realm_session_cutoff: realm.session_cutoff,
            user_not_before: 0,
        };
        for s in &listed {
            assert!(s.session.liveness(&realm.limits, &cutoffs, now).is_alive(), "{step}: {:?} listed", s.session.id);
        }
        let order: Vec<_> = listed.iter().map(|s| (s.session.last_access, s.session.id)).collect();
        assert!(order.windows(2).all(|w| w[0] >= w[1]), "{step}: {filter:?} newest activity first");
        // Small pages, as the console reads them (a search naming clients whose sessions are
        // many then walks the live range instead of reading them): the same sessions in the
        // same order, and the exact total beside each page.
        let mut paged = Vec::new();
        for first in [0, 3, 6, 9] {
            let (page, total) = listing::page(&snapshot, &realm, filter, first, 3, now).await.unwrap();
            assert_eq!(total, exact, "total beside the page at {first} of {filter:?} after {step}");
            paged.extend(page.into_iter().map(|s| s.session.id));
        }
        let expected: Vec<_> = listed.iter().take(12).map(|s| s.session.id).collect();
        assert_eq!(paged, expected, "pages of {filter:?} after {step}");
    }
    listing::count_exact(&snapshot, &realm, &SessionFilter::default(), now).await.unwrap()
}

/// Every count of the realm, from the maintained counts and exactly, must agree; returns the
/// realm-wide total.
async fn assert_counts_exact(db: &TestDb, server: &TestServer, admin: &str, step: &str) -> u64 {
    let store = db.store().await;
    let realm: Realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let now = Timestamp::now();
    assert_counts_exact_at(db, now, step).await;
    // Later, with nothing reaped: as the idle timeouts pass, then past every regular session.
    for minutes in [29, 31, 61, 24 * 60] {
        assert_counts_exact_at(db, now.plus_secs(minutes * 60), &format!("{step}, {minutes} minutes on")).await;
    }
    // What the admin API answers is compared with the exact figures at this same instant.
    let exact_stats = listing::client_stats_exact(store.conn(), &realm, now).await.unwrap();

    // And as the admin API answers them.
    let (_, _, body) = get(server, admin, "/admin/realms/demo/client-session-stats").await;
    let from_api: Vec<(String, String, String)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().into(),
                s["active"].as_str().unwrap().into(),
                s["offline"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> =
        exact_stats.iter().map(|(id, _, r, o)| (id.to_string(), r.to_string(), o.to_string())).collect();
    assert_eq!(from_api, expected, "client-session-stats over HTTP after {step}");
    let (_, total, _) = get(server, admin, "/admin/realms/demo/ui-ext/sessions?max=1").await;
    let total: u64 = total.unwrap().parse().unwrap();
    assert_eq!(total, listing::count_exact(store.conn(), &realm, &SessionFilter::default(), now).await.unwrap());
    total
}

async fn password_grant(server: &TestServer, username: &str, scope: &str) -> Value {
    password_grant_at(rp::endpoint(server, "demo", "token"), username, scope).await
}

async fn password_grant_at(token_endpoint: String, username: &str, scope: &str) -> Value {
    rp::http()
        .post(token_endpoint)
        .form(&[
            ("grant_type", "password"),
            ("client_id", "demo-web"),
            ("client_secret", "demo-web-secret"),
            ("username", username),
            ("password", &format!("{username}-password")),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn maintained_counts_equal_an_exact_count_through_every_ending(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let admin = master_token(&server).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let carol = users::find_by_username(store.conn(), realm.id, "carol").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let spa = clients::find_by_client_id(store.conn(), realm.id, "demo-spa").await.unwrap().unwrap();
    assert_eq!(assert_counts_exact(&db, &server, &admin, "start").await, 0);

    // Sign-ins: code flow (a second application joins the same SSO session), offline tokens,
    // and concurrent password grants.
    let web_rp =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    let carol_browser = Browser::new(&server);
    code_flow(&web_rp, &carol_browser, &["openid", "offline_access"], "carol", "carol-password").await;
    let mut grants = tokio::task::JoinSet::new();
    // Four at once per user and address: sign-in attempts are counted before they are checked,
    // so a burst of more than five for one user from one address is asked to wait a second.
    for i in 0..12 {
        let endpoint = rp::endpoint(&server, "demo", "token");
        grants.spawn(async move { password_grant_at(endpoint, ["alice", "bob", "carol"][i % 3], "openid").await });
    }
    while let Some(answer) = grants.join_next().await {
        let answer = answer.unwrap();
        assert!(answer["access_token"].is_string(), "{answer}");
    }
    let offline = password_grant(&server, "bob", "openid offline_access").await;
    assert!(offline["refresh_token"].is_string());
    let bulk = many_sessions(&db, &realm, &alice, web.id, 40).await;
    // A second client in some of the bulk sessions.
    for id in &bulk[..10] {
        let session = sessions::find_user_session(store.conn(), *id).await.unwrap().unwrap();
        let mut cs = sessions::client_sessions_of(store.conn(), *id).await.unwrap().remove(0);
        cs.client_id = spa.id;
        cs.started_at = session.started_at;
        sessions::upsert_client_session(store.conn(), &cs).await.unwrap();
        // Signing in to the same application again within the session refreshes, not adds.
        sessions::upsert_client_session(store.conn(), &cs).await.unwrap();
    }
    // One session a search for "a" finds three ways: alice's, from an address beginning with
    // "a", holding demo-spa (listed and counted once).
    let thrice = UserSession::start(realm.id, alice.id, SessionType::Regular, "abcd::1", false, Timestamp::now());
    sessions::insert_user_session(store.conn(), &thrice).await.unwrap();
    sessions::insert_client_session(store.conn(), &held_by(&thrice, spa.id)).await.unwrap();
    assert_eq!(
        assert_counts_exact(&db, &server, &admin, "sign-ins").await,
        2 + 12 + 2 + 40 + 1,
        "carol: regular and offline; 12 grants; bob: regular and offline; 40 bulk; one found thrice"
    );

    // A session timed out but not yet reaped: never counted, before or after the reaper.
    let mut stale = UserSession::start(
        realm.id,
        carol.id,
        SessionType::Regular,
        "10.9.9.9",
        false,
        Timestamp::now().plus_secs(-7200),
    );
    stale.last_access = Timestamp::now().plus_secs(-3600);
    sessions::insert_user_session(store.conn(), &stale).await.unwrap();
    let mut cs = sessions::client_sessions_of(store.conn(), bulk[0]).await.unwrap().remove(0);
    cs.user_session_id = stale.id;
    sessions::insert_client_session(store.conn(), &cs).await.unwrap();
    assert_counts_exact(&db, &server, &admin, "a timed-out session").await;
    server.life.reap(Timestamp::now()).await.unwrap();
    assert_counts_exact(&db, &server, &admin, "the reaper").await;

    // Endings, one kind at a time.
    let path = format!("/admin/realms/demo/sessions/{}", bulk[1]);
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "ending one session").await;

    let offline_sessions =
        get(&server, &admin, &format!("/admin/realms/demo/clients/{}/offline-sessions", web.id)).await.2;
    let offline_id = offline_sessions[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/realms/demo/sessions/{offline_id}?isOffline=true");
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "revoking an offline session").await;

    let path = format!("/admin/realms/demo/users/{}/logout", carol.id);
    assert_eq!(call(&server, Some(&admin), Method::POST, &path, None).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "a user's logout").await;

    let path = format!("/admin/realms/demo/clients/{}", spa.id);
    assert_eq!(call(&server, Some(&admin), Method::PUT, &path, Some(json!({"enabled": false}))).await.0, 204);
    server.life.reap(Timestamp::now()).await.unwrap();
    assert_counts_exact(&db, &server, &admin, "disabling a client").await;
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "deleting a client").await;

    let bob = users::find_by_username(store.conn(), realm.id, "bob").await.unwrap().unwrap();
    let path = format!("/admin/realms/demo/users/{}", bob.id);
    assert_eq!(call(&server, Some(&admin), Method::DELETE, &path, None).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "deleting a user").await;

    // A not-before in the middle of the bulk sessions' starts: those before it stop counting.
    let middle = sessions::find_user_session(store.conn(), bulk[20]).await.unwrap().unwrap().started_at;
    let body = json!({"notBefore": middle.as_secs() as f64 + 0.5});
    assert_eq!(call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(body)).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "a realm not-before").await;
    let body = json!({"notBefore": 0});
    assert_eq!(call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(body)).await.0, 204);
    assert_counts_exact(&db, &server, &admin, "clearing the not-before").await;

    let (status, _, _) = call(&server, Some(&admin), Method::POST, "/admin/realms/demo/logout-all", None).await;
    assert_eq!(status, 200);
    assert_eq!(assert_counts_exact(&db, &server, &admin, "logout-all").await, 0);
    server.life.reap(Timestamp::now()).await.unwrap();
    assert_eq!(assert_counts_exact(&db, &server, &admin, "the reaper after logout-all").await, 0);

    // Sessions after the cut-off count again.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(password_grant(&server, "alice", "openid").await["access_token"].is_string());
    assert_eq!(assert_counts_exact(&db, &server, &admin, "a sign-in after logout-all").await, 1);

    // Shorter limits move every session's expiry: a job the reaper runs in batches, the counts
    // moving with each batch.
    let shorter = json!({"ssoSessionIdleTimeout": 600, "offlineSessionIdleTimeout": 3600});
    assert_eq!(call(&server, Some(&admin), Method::PUT, "/admin/realms/demo", Some(shorter)).await.0, 204);
    server.life.reap(Timestamp::now()).await.unwrap();
    assert_eq!(assert_counts_exact(&db, &server, &admin, "shorter limits").await, 1);
    // The buckets moved with it: a quarter of an hour on, past the new idle timeout, it has
    // timed out (under the old one it would still count).
    assert_eq!(assert_counts_exact_at(&db, Timestamp::now().plus_secs(900), "shorter limits, 15 minutes on").await, 0);
}

/// The demo server, its own reaper's first pass made and the next an hour away: the passes a
/// test makes are its own.
async fn server_after_its_reapers_first_pass(db: &TestDb) -> TestServer {
    let server = TestServer::start_with(db, |c| {
        c.demo = true;
        c.reaper_interval = std::time::Duration::from_secs(3_600);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics = format!("http://{}/metrics", server.metrics_address.unwrap());
    while !reqwest::get(&metrics).await.unwrap().text().await.unwrap().contains("latchkey_reaper_passes_total 1") {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server
}

/// Runs `latchkey seed` on the test database with these arguments.
async fn seed(db: &TestDb, args: &[&str]) {
    let all = ["latchkey", "seed", "--database-url", db.url().as_str()].into_iter().chain(args.iter().copied());
    let cli = <latchkey_server::cli::Cli as clap::Parser>::try_parse_from(all).unwrap();
    assert_eq!(latchkey_server::run(cli).await, std::process::ExitCode::SUCCESS);
}

/// `latchkey seed` fills the realm with live sessions spread as it says, and counts them.
async fn a_seeded_realm_is_counted_and_listed(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let admin = master_token(&server).await;
    seed(&db, &["--users", "40", "--sessions", "3000", "--clients", "demo-web,demo-spa"]).await;
    assert_eq!(assert_counts_exact(&db, &server, &admin, "seeding").await, 3000);
    let store = db.store().await;
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let spa = clients::find_by_client_id(store.conn(), realm.id, "demo-spa").await.unwrap().unwrap();
    let (_, _, stats) = get(&server, &admin, "/admin/realms/demo/client-session-stats").await;
    let of = |id: String| stats.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).cloned().unwrap();
    assert_eq!(
        (of(web.id.to_string())["active"].clone(), of(web.id.to_string())["offline"].clone()),
        (json!("2700"), json!("300"))
    );
    assert_eq!(
        (of(spa.id.to_string())["active"].clone(), of(spa.id.to_string())["offline"].clone()),
        (json!("900"), json!("100"))
    );
    let user = users::find_by_username(store.conn(), realm.id, "user7").await.unwrap().unwrap();
    let (status, _, listed) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/sessions", user.id)).await;
    assert_eq!(status, 200);
    // Session i belongs to user (i mod 40) + 1 and is offline when i mod 100 < 10.
    let regular_of_user7 = (0..3000).filter(|i| i % 40 == 6 && i % 100 >= 10).count();
    assert_eq!(listed.as_array().unwrap().len(), regular_of_user7, "user7's regular sessions");
    // Seeding again adds as many more to the same users.
    seed(&db, &["--users", "40", "--sessions", "3000", "--clients", "demo-web,demo-spa"]).await;
    assert_eq!(assert_counts_exact(&db, &server, &admin, "seeding twice").await, 6000);
}

/// The rows of the realm's counts in minute and hour buckets gone by at `now` (those before the
/// last minute and hour).
async fn past_bucket_rows(db: &TestDb, realm: &Realm, now: Timestamp) -> i64 {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let store = db.store().await;
    let backend = store.conn().get_database_backend();
    let minute = now.as_millis() / 60_000 - 1;
    let hour = -2 - (now.as_millis() / 3_600_000 - 1);
    let mark = if backend == DatabaseBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM session_counts WHERE realm_id = {mark} \
         AND ((bucket >= 0 AND bucket < {minute}) OR (bucket > {hour} AND bucket < -1))"
    );
    let statement = Statement::from_sql_and_values(backend, sql, [realm.id.as_uuid().into()]);
    store.conn().query_one(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
}

/// A bucket gone by is forgotten once every session counted in it has ended, and not before;
/// no count moves either way.
async fn settled_buckets_are_forgotten_and_nothing_else(db: TestDb) {
    let (server, realm) = demo(&db).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    crate::admin::many_sessions(&db, &realm, &alice, web.id, 20).await;
    // Five that timed out hours ago and that no reaper has ended: counted in buckets gone by.
    // (In one transaction, as a sign-in writes: a reaper never ends a session between its row
    // and its count.)
    let long_ago = Timestamp::now().plus_secs(-3 * 3600);
    let txn = store.begin().await.unwrap();
    for i in 0..5 {
        let s = UserSession::start(realm.id, alice.id, SessionType::Regular, &format!("10.9.9.{i}"), false, long_ago);
        sessions::insert_user_session(&txn, &s).await.unwrap();
        let cs = ClientSession {
            user_session_id: s.id,
            client_id: web.id,
            realm_id: realm.id,
            session_type: SessionType::Regular,
            started_at: long_ago,
            last_refresh: long_ago,
            scopes: vec![],
            redirect_uri: None,
            refresh_token_id: None,
        };
        sessions::insert_client_session(&txn, &cs).await.unwrap();
    }
    txn.commit().await.unwrap();
    let now = Timestamp::now();
    let held = past_bucket_rows(&db, &realm, now).await;
    assert!(held > 0, "the timed-out sessions are counted in buckets gone by");
    assert_eq!(assert_counts_exact_at(&db, now, "timed out, not yet ended").await, 20);
    counts::forget_settled(store.conn(), realm.id, now).await.unwrap();
    assert_eq!(assert_counts_exact_at(&db, now, "settled buckets forgotten, none settled").await, 20);

    // Ended (by this pass, or by the server's own reaper if it came first): settled, forgotten.
    server.life.reap(now).await.unwrap();
    counts::forget_settled(store.conn(), realm.id, now).await.unwrap();
    assert_eq!(assert_counts_exact_at(&db, now, "the settled buckets forgotten").await, 20);
    assert_eq!(past_bucket_rows(&db, &realm, now).await, 0, "every bucket gone by has settled");
}

/// A reaper pass's clock: `base` at its first reading, one second later at each after.
fn stepping_clock(base: i64) -> impl Fn() -> Timestamp + Sync {
    let readings = std::sync::atomic::AtomicI64::new(0);
    move || Timestamp::from_millis(base + 1_000 * readings.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
}

/// How long after its last use a regular session of `user` in `realm` times out (at `at`).
fn idle_ms(realm: &Realm, user: &latchkey_domain::User, at: i64) -> i64 {
    let probe =
        UserSession::start(realm.id, user.id, SessionType::Regular, "10.0.0.1", false, Timestamp::from_millis(at));
    match probe.liveness(&realm.limits, &Default::default(), probe.last_access) {
        latchkey_domain::Liveness::Alive { expires_at } => expires_at.as_millis() - at,
        dead => panic!("{dead:?}"),
    }
}

/// What times out while the reaper works through a backlog of earlier minutes is ended in the
/// same pass, ahead of the rest of the backlog: the current minute's timed-out sessions are what
/// every count's correction reads until they are ended.
async fn what_times_out_during_a_pass_is_ended_before_the_backlog(db: TestDb) {
    use latchkey_domain::SessionState;
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    let (server, realm) = demo(&db).await;
    let store = db.store().await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    // The pass's clock, an hour from now (the server's own reaper, on the wall clock, reaches
    // none of these sessions), one second later at each reading.
    let base = Timestamp::now().as_millis() + 3_600_000;
    let clock = stepping_clock(base);
    let idle = idle_ms(&realm, &alice, base);
    let timing_out_at = |expiry: i64, ip: String| {
        UserSession::start(realm.id, alice.id, SessionType::Regular, &ip, false, Timestamp::from_millis(expiry - idle))
    };
    // Five batches of backlog, timed out ten minutes before the pass; ten timing out during it.
    let backlog: Vec<UserSession> =
        (0..2_500).map(|i| timing_out_at(base - 600_000 - i, format!("10.1.{}.{}", i / 250, i % 250))).collect();
    let arriving: Vec<UserSession> = (0..10).map(|i| timing_out_at(base + 2_500, format!("10.2.0.{i}"))).collect();
    let txn = store.begin().await.unwrap();
    for s in backlog.iter().chain(&arriving) {
        sessions::insert_user_session(&txn, s).await.unwrap();
        sessions::insert_client_session(&txn, &held_by(s, web.id)).await.unwrap();
    }
    txn.commit().await.unwrap();

    server.life.reap_with(&clock).await.unwrap();
    // When each batch ended is its notifications' time (on PostgreSQL the rows are gone).
    let told: std::collections::HashMap<String, i64> = outbox::for_client(store.conn(), web.id, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            let payload: Value = serde_json::from_str(&m.payload).unwrap();
            (payload["sid"].as_str().unwrap().to_owned(), m.created_at)
        })
        .collect();
    let ended_at = |list: &[UserSession]| -> Vec<i64> {
        list.iter().map(|s| *told.get(&s.id.to_string()).expect("ended by the pass, its client told")).collect()
    };
    let (arriving_ended, backlog_ended) = (ended_at(&arriving), ended_at(&backlog));
    // On PostgreSQL the rows are removed as they end; on SQLite marked ended, removed later.
    let postgres = store.conn().get_database_backend() == DatabaseBackend::Postgres;
    for s in backlog.iter().chain(&arriving) {
        let row = sessions::find_user_session(store.conn(), s.id).await.unwrap();
        match &row {
            None => assert!(postgres, "removed on SQLite"),
            Some(row) => assert!(!postgres && row.state == SessionState::Ended, "{row:?}"),
        }
    }
    let (last_arriving, last_backlog) = (*arriving_ended.iter().max().unwrap(), *backlog_ended.iter().max().unwrap());
    assert!(
        last_arriving < last_backlog,
        "what timed out during the pass (ended at +{} s) went before the backlog's last batch (+{} s)",
        (last_arriving - base) / 1000,
        (last_backlog - base) / 1000
    );
}

/// What times out while the reaper works through a job (here a disabled client's 1,500 client
/// sessions, three batches) is ended between the job's batches, not after its last: until it
/// is ended, every count's correction reads it and every list walks past it.
async fn what_times_out_during_a_job_is_ended_between_its_batches(db: TestDb) {
    use latchkey_store::jobs::{self, Job, JobKind};
    // The server's own reaper makes its first pass and then waits an hour: the job below is
    // this test's pass's alone.
    let server = server_after_its_reapers_first_pass(&db).await;
    server.life.reap(Timestamp::now()).await.unwrap(); // after the server's first pass: one at a time
    let store = db.store().await;
    let realm = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let mut spa = clients::find_by_client_id(store.conn(), realm.id, "demo-spa").await.unwrap().unwrap();
    spa.backchannel_logout_url = Some("http://127.0.0.1:9/bcl".into());
    clients::update(store.conn(), &spa).await.unwrap();
    // The pass's clock: an hour from now, 10 s into a minute (so that its readings stay in one
    // minute), one second later at each reading.
    let base = (Timestamp::now().as_millis() + 3_600_000) / 60_000 * 60_000 + 10_000;
    let clock = stepping_clock(base);
    let idle = idle_ms(&realm, &alice, base);
    let used_at = |at: i64, ip: String| {
        UserSession::start(realm.id, alice.id, SessionType::Regular, &ip, false, Timestamp::from_millis(at))
    };
    // 1,500 sessions alive all along, holding demo-spa; ten holding demo-web that time out 1.5 s
    // into the pass.
    let held: Vec<UserSession> =
        (0..1_500).map(|i| used_at(base - 60_000 - i, format!("10.1.{}.{}", i / 250, i % 250))).collect();
    let arriving: Vec<UserSession> = (0..10).map(|i| used_at(base + 1_500 - idle, format!("10.2.0.{i}"))).collect();
    let txn = store.begin().await.unwrap();
    for s in &held {
        sessions::insert_user_session(&txn, s).await.unwrap();
        sessions::insert_client_session(&txn, &held_by(s, spa.id)).await.unwrap();
    }
    for s in &arriving {
        sessions::insert_user_session(&txn, s).await.unwrap();
        sessions::insert_client_session(&txn, &held_by(s, web.id)).await.unwrap();
    }
    let job = Job {
        id: uuid::Uuid::new_v4(),
        realm_id: realm.id,
        kind: JobKind::ClientSessions,
        client_id: Some(spa.id),
        cutoff: Timestamp::from_millis(base),
        request_group: None,
        done_at: None,
    };
    jobs::insert(&txn, &job, Timestamp::from_millis(base)).await.unwrap();
    txn.commit().await.unwrap();

    let done = server.life.reap_with(&clock).await.unwrap();
    assert_eq!((done.client_sessions, done.expired), (1_500, 10), "{done:?}");
    // When each was ended: its notification's time, each batch stamped with its own.
    let told = |client| {
        let store = &store;
        async move {
            let messages = outbox::for_client(store.conn(), client, 10_000).await.unwrap();
            messages.into_iter().map(|m| m.created_at).collect::<Vec<i64>>()
        }
    };
    let (job_told, arriving_told) = (told(spa.id).await, told(web.id).await);
    assert_eq!((job_told.len(), arriving_told.len()), (1_500, 10));
    let (last_arriving, last_job_batch) = (*arriving_told.iter().max().unwrap(), *job_told.iter().max().unwrap());
    assert!(
        last_arriving < last_job_batch,
        "what timed out during the job was ended at +{} s, after the job's last batch (+{} s)",
        (last_arriving - base) / 1000,
        (last_job_batch - base) / 1000
    );
    assert!(jobs::find(store.conn(), job.id).await.unwrap().unwrap().done_at.is_some());
}

/// On PostgreSQL the reaper has the session tables vacuumed behind a mass expiry: every row it
/// removes clears its page's all-visible mark, and until a vacuum marks the pages again every
/// list's index-only scan reads a table row per entry it walks past (autovacuum comes only once
/// a fifth of the table has changed, at its throttled pace).
#[tokio::test]
async fn postgres_a_mass_expiry_is_vacuumed_behind_the_reaper() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let Some(db) = TestDb::postgres().await else { return };
    // The server's own reaper makes its first pass and then waits an hour: the expiry below is
    // this test's pass's.
    let server = server_after_its_reapers_first_pass(&db).await;
    // Autovacuum kept off these tables: it would not count as the reaper's, and a table it is
    // at is one the reaper's vacuum skips.
    let store = db.store().await;
    for table in ["user_sessions", "client_sessions"] {
        let off = format!("ALTER TABLE {table} SET (autovacuum_enabled = false)");
        store.conn().execute_unprepared(&off).await.unwrap();
    }
    // 12,000 sessions last used 40 to 55 minutes ago, past the realm's 30-minute idle timeout
    // (none offline: each of them times out).
    seed(
        &db,
        &[
            "--users",
            "40",
            "--sessions",
            "12000",
            "--offline-percent",
            "0",
            "--clients",
            "demo-web,demo-spa",
            "--shape",
            "expired",
        ],
    )
    .await;
    let vacuums = || {
        let store = &store;
        async move {
            let sql = "SELECT COALESCE(SUM(vacuum_count), 0)::BIGINT AS n FROM pg_stat_user_tables \
                       WHERE relname IN ('user_sessions', 'client_sessions')";
            let statement = Statement::from_string(DatabaseBackend::Postgres, sql);
            store.conn().query_one(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
        }
    };
    // The seed's own `VACUUM (ANALYZE)` counted; what comes after is the reaper's.
    let before = vacuums().await;
    let done = server.life.reap(Timestamp::now()).await.unwrap();
    assert_eq!(done.expired, 12_000, "{done:?}");
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while vacuums().await < before + 2 {
        assert!(
            tokio::time::Instant::now() < give_up,
            "12,000 sessions removed and the session tables not vacuumed ({} vacuums, {before} before)",
            vacuums().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A page past the middle of a list is read from its other end (oldest activity first) and a
/// page past its end reads nothing: every page, of the realm, of one kind and of each client,
/// is the slice of the whole list read newest first, and its total the list's length.
async fn every_page_is_the_lists_slice_from_either_end(db: TestDb) {
    let (_server, realm) = demo(&db).await;
    seed(&db, &["--users", "40", "--sessions", "300", "--clients", "demo-web,demo-spa"]).await;
    let store = db.store().await;
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let spa = clients::find_by_client_id(store.conn(), realm.id, "demo-spa").await.unwrap().unwrap();
    // Ties of last access are broken by id, the same way from both ends.
    let now = Timestamp::now();
    let filters = [
        SessionFilter::default(),
        SessionFilter { session_type: Some(SessionType::Offline), ..Default::default() },
        SessionFilter { client: Some(web.id), ..Default::default() },
        SessionFilter { client: Some(spa.id), session_type: Some(SessionType::Regular), ..Default::default() },
    ];
    for filter in filters {
        let snapshot = store.snapshot().await.unwrap();
        let whole: Vec<_> = listing::list(&snapshot, &realm, &filter, 0, 10_000, now)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.session.id)
            .collect();
        let n = whole.len() as u64;
        assert!(n >= 30, "{filter:?}: {n} sessions");
        for first in [0, 1, n / 2 - 1, n / 2, n / 2 + 1, n - 11, n - 10, n - 9, n - 1, n, n + 5] {
            for max in [1, 10, 100] {
                let (page, total) = listing::page(&snapshot, &realm, &filter, first, max, now).await.unwrap();
                let ids: Vec<_> = page.into_iter().map(|s| s.session.id).collect();
                let from = (first.min(n)) as usize;
                let to = ((first + max).min(n)) as usize;
                assert_eq!(total, n, "{filter:?}: total");
                assert_eq!(ids, whole[from..to], "{filter:?}: page at {first}, max {max}, of {n}");
            }
        }
    }
}
