//! The schema on a real database: migrations up and down, every table and index present,
//! every entity round-tripping, and the constraints the rest of the system relies on.

use latchkey_domain::{
    AdminRole, Client, ClientKind, ClientSession, Protocol, Realm, Secret, SessionId, SessionType, Timestamp, User,
    UserSession,
};
use latchkey_store::entity::{admin_event, outbox, signing_key};
use latchkey_store::{clients, jobs, realms, sessions, users, StoreError};
use latchkey_tests::{backend_tests, TestDb};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

backend_tests!(
    migrations_create_every_table_and_index_and_revert_cleanly,
    rows_round_trip_through_every_repository,
    usernames_are_unique_per_realm_whatever_their_case,
    client_ids_are_unique_per_realm_only,
    deleting_a_realm_removes_everything_in_it,
    client_sessions_need_a_real_session_and_client,
    audit_outbox_and_key_tables_take_their_rows,
    lists_and_counts_read_the_ranges_they_are_written_for,
    a_sessions_expiry_follows_its_use_and_its_realms_limits,
);

async fn migrations_create_every_table_and_index_and_revert_cleanly(db: TestDb) {
    let store = db.store().await;
    assert!(store.is_empty().await.unwrap());
    let all = latchkey_store::migration_count();
    assert_eq!(store.migrate().await.unwrap(), all);
    assert_eq!(store.missing_schema().await.unwrap(), Vec::<String>::new());
    assert!(!store.is_empty().await.unwrap());
    assert_eq!(store.migrate().await.unwrap(), 0, "a second run applies nothing");

    store.rollback_all().await.unwrap();
    let missing = store.missing_schema().await.unwrap();
    assert!(missing.contains(&"user_sessions".to_owned()) && missing.contains(&"outbox".to_owned()), "{missing:?}");
    assert_eq!(store.migrate().await.unwrap(), all, "the schema comes back after a full revert");
    assert!(store.missing_schema().await.unwrap().is_empty());
}

fn now() -> Timestamp {
    Timestamp::now()
}

async fn realm_with_user_and_client(store: &latchkey_store::Store) -> (Realm, User, Client) {
    let realm = Realm::new(&format!("r{}", Uuid::new_v4().simple()), now()).unwrap();
    realms::insert(store.conn(), &realm).await.unwrap();
    let mut user = User::new(realm.id, "Alice", now()).unwrap().with_email("alice@example.com").unwrap();
    user.password = Some(Secret::new("pw").hash().unwrap());
    users::insert(store.conn(), &user).await.unwrap();
    let mut client = Client::new(realm.id, "web", Protocol::OpenIdConnect, now()).unwrap();
    client.kind = ClientKind::Confidential { secret: Secret::new("s3cret").hash().unwrap() };
    client.redirect_uris = vec!["https://app.example/cb".into(), "/console/*".into()];
    client.web_origins = vec!["+".into()];
    client.backchannel_logout_url = Some("https://app.example/bcl".into());
    clients::insert(store.conn(), &client).await.unwrap();
    (realm, user, client)
}

fn sessions_for(realm: &Realm, user: &User, client: &Client) -> (UserSession, ClientSession) {
    let mut session = UserSession::start(realm.id, user.id, SessionType::Offline, "203.0.113.9", true, now());
    session.user_agent = Some("Mozilla/5.0".into());
    let client_session = ClientSession {
        user_session_id: session.id,
        client_id: client.id,
        realm_id: realm.id,
        session_type: SessionType::Offline,
        started_at: session.started_at,
        last_refresh: session.started_at,
        scopes: vec!["openid".into(), "offline_access".into()],
        redirect_uri: Some("https://app.example/cb".into()),
        refresh_token_id: Some("rt-1".into()),
    };
    (session, client_session)
}

async fn rows_round_trip_through_every_repository(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, user, client) = realm_with_user_and_client(&store).await;

    assert_eq!(realms::find_by_name(store.conn(), &realm.name).await.unwrap(), Some(realm.clone()));
    let found = users::find_by_username(store.conn(), realm.id, "ALICE").await.unwrap().unwrap();
    assert_eq!(found, user);
    assert!(found.password.unwrap().verify(&Secret::new("pw")));
    let found = clients::find_by_client_id(store.conn(), realm.id, "web").await.unwrap().unwrap();
    assert_eq!(found, client);
    assert!(matches!(found.kind, ClientKind::Confidential { ref secret } if secret.verify(&Secret::new("s3cret"))));

    users::grant_role(store.conn(), user.id, AdminRole::ViewUsers, now()).await.unwrap();
    users::grant_role(store.conn(), user.id, AdminRole::ViewUsers, now()).await.unwrap();
    users::grant_role(store.conn(), user.id, AdminRole::ManageClients, now()).await.unwrap();
    let mut roles = users::roles_of(store.conn(), user.id).await.unwrap();
    roles.sort();
    assert_eq!(roles, vec![AdminRole::ViewUsers, AdminRole::ManageClients]);

    let (session, client_session) = sessions_for(&realm, &user, &client);
    sessions::insert_user_session(store.conn(), &session).await.unwrap();
    sessions::insert_client_session(store.conn(), &client_session).await.unwrap();
    assert_eq!(sessions::find_user_session(store.conn(), session.id).await.unwrap(), Some(session.clone()));
    assert_eq!(sessions::client_sessions_of(store.conn(), session.id).await.unwrap(), vec![client_session]);
    assert_eq!(sessions::find_user_session(store.conn(), SessionId::new()).await.unwrap(), None);
}

async fn usernames_are_unique_per_realm_whatever_their_case(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, _, _) = realm_with_user_and_client(&store).await;
    let twin = User::new(realm.id, "ALICE", now()).unwrap();
    match users::insert(store.conn(), &twin).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "user 'alice'"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let (other_realm, _, _) = realm_with_user_and_client(&store).await;
    let elsewhere = User::new(other_realm.id, "bob", now()).unwrap();
    users::insert(store.conn(), &elsewhere).await.unwrap();
}

async fn client_ids_are_unique_per_realm_only(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, _, _) = realm_with_user_and_client(&store).await;
    let again = Client::new(realm.id, "web", Protocol::Saml, now()).unwrap();
    assert!(matches!(clients::insert(store.conn(), &again).await, Err(StoreError::Conflict(_))));
    let (other, _, _) = realm_with_user_and_client(&store).await;
    assert_eq!(clients::list(store.conn(), other.id).await.unwrap().len(), 1);

    let duplicate_realm = Realm::new(&realm.name, now()).unwrap();
    match realms::insert(store.conn(), &duplicate_realm).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, format!("realm '{}'", realm.name)),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn deleting_a_realm_removes_everything_in_it(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, user, client) = realm_with_user_and_client(&store).await;
    let (kept_realm, kept_user, _) = realm_with_user_and_client(&store).await;
    let (session, client_session) = sessions_for(&realm, &user, &client);
    sessions::insert_user_session(store.conn(), &session).await.unwrap();
    sessions::insert_client_session(store.conn(), &client_session).await.unwrap();
    users::grant_role(store.conn(), user.id, AdminRole::RealmAdmin, now()).await.unwrap();

    assert!(realms::delete(store.conn(), realm.id).await.unwrap());
    assert!(!realms::delete(store.conn(), realm.id).await.unwrap());
    assert_eq!(users::find_by_username(store.conn(), realm.id, "alice").await.unwrap(), None);
    assert_eq!(clients::list(store.conn(), realm.id).await.unwrap(), vec![]);
    assert_eq!(sessions::find_user_session(store.conn(), session.id).await.unwrap(), None);
    assert_eq!(sessions::client_sessions_of(store.conn(), session.id).await.unwrap(), vec![]);
    assert_eq!(users::roles_of(store.conn(), user.id).await.unwrap(), vec![]);

    let survivor = users::find_by_username(store.conn(), kept_realm.id, "alice").await.unwrap();
    assert_eq!(survivor, Some(kept_user), "other realms are untouched");
}

async fn client_sessions_need_a_real_session_and_client(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, user, client) = realm_with_user_and_client(&store).await;
    let (session, mut client_session) = sessions_for(&realm, &user, &client);
    let orphan = sessions::insert_client_session(store.conn(), &client_session).await;
    assert!(orphan.is_err(), "a client session without its user session is refused");

    sessions::insert_user_session(store.conn(), &session).await.unwrap();
    client_session.client_id = latchkey_domain::ClientId::new();
    assert!(sessions::insert_client_session(store.conn(), &client_session).await.is_err());

    client_session.client_id = client.id;
    sessions::insert_client_session(store.conn(), &client_session).await.unwrap();
    assert!(
        matches!(sessions::insert_client_session(store.conn(), &client_session).await, Err(StoreError::Conflict(_))),
        "one client session per user session and client"
    );
}

async fn audit_outbox_and_key_tables_take_their_rows(db: TestDb) {
    let store = db.migrated_store().await;
    let (realm, user, client) = realm_with_user_and_client(&store).await;
    let t = now().as_millis();

    let key = signing_key::ActiveModel {
        kid: Set("k1".into()),
        realm_id: Set(realm.id.as_uuid()),
        algorithm: Set("RS256".into()),
        private_key: Set("-----BEGIN PRIVATE KEY-----".into()),
        public_key: Set("{}".into()),
        active: Set(true),
        created_at: Set(t),
    };
    signing_key::Entity::insert(key).exec(store.conn()).await.unwrap();
    assert!(signing_key::Entity::find_by_id("k1").one(store.conn()).await.unwrap().unwrap().active);

    let event_id = Uuid::now_v7();
    let event = admin_event::ActiveModel {
        id: Set(event_id),
        time: Set(t),
        realm_id: Set(realm.id.as_uuid()),
        auth_realm_id: Set(Some(realm.id.as_uuid())),
        auth_client_id: Set(Some("admin-cli".into())),
        auth_user_id: Set(Some(user.id.as_uuid())),
        ip_address: Set(Some("127.0.0.1".into())),
        operation_type: Set("DELETE".into()),
        resource_type: Set("USER_SESSION".into()),
        resource_path: Set(format!("sessions/{}", Uuid::new_v4())),
        representation: Set(None),
        outcome: Set("SUCCESS".into()),
        error: Set(None),
    };
    admin_event::Entity::insert(event).exec(store.conn()).await.unwrap();
    let stored = admin_event::Entity::find_by_id(event_id).one(store.conn()).await.unwrap().unwrap();
    assert_eq!(stored.auth_user_id, Some(user.id.as_uuid()));

    let message_id = Uuid::now_v7();
    let message = outbox::ActiveModel {
        id: Set(message_id),
        realm_id: Set(realm.id.as_uuid()),
        client_id: Set(client.id.as_uuid()),
        kind: Set("BACKCHANNEL_LOGOUT".into()),
        url: Set("https://app.example/bcl".into()),
        payload: Set(r#"{"sub":"x"}"#.into()),
        request_group: Set(Some(Uuid::new_v4())),
        status: Set(outbox::Delivery::Pending),
        attempts: Set(0),
        next_attempt_at: Set(t),
        deadline_at: Set(t + 3_600_000),
        claimed_by: Set(None),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(t),
        delivered_at: Set(None),
    };
    outbox::Entity::insert(message).exec(store.conn()).await.unwrap();
    let stored = outbox::Entity::find_by_id(message_id).one(store.conn()).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.deadline_at), ("PENDING", t + 3_600_000));

    realms::delete(store.conn(), realm.id).await.unwrap();
    assert!(
        outbox::Entity::find_by_id(message_id).one(store.conn()).await.unwrap().is_some(),
        "notifications outlive their realm"
    );
    assert!(signing_key::Entity::find_by_id("k1").one(store.conn()).await.unwrap().is_none());
}

/// Each list and count reads the index range it is written for, whatever the data holds: the
/// plan does not depend on statistics (on PostgreSQL, sequential scans are switched off for the
/// check, so a plan that could not use the index would show).
async fn lists_and_counts_read_the_ranges_they_are_written_for(db: TestDb) {
    use sea_orm::ConnectionTrait;
    let store = db.store().await;
    store.migrate().await.unwrap();
    let (realm, user, client) = realm_with_user_and_client(&store).await;
    let txn = store.begin().await.unwrap();
    let postgres = txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    if postgres {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
    }
    let plans = latchkey_store::listing::explain(&txn, &realm, client.id, user.id, now()).await.unwrap();
    assert_eq!(plans.len(), 18, "{plans:?}");
    for (what, plan) in &plans {
        // Shown with `--no-capture`: the plans `docs/schema.md` quotes.
        println!("{what}\n{plan}\n");
        let lower = plan.to_lowercase();
        // A search and a user's list read each user's live sessions as one range (SQLite is
        // told; PostgreSQL chooses the index by statistics an empty table does not have, but a
        // search reads each matched user's sessions in a subquery of its own, never one pass over
        // the realm's sessions joined to the users).
        if (what.contains("search") || what.contains("a user's")) && !postgres {
            assert!(lower.contains("ix_user_sessions_user_live"), "{what}: {plan}");
        }
        if what.contains("search") && !what.contains("client") && postgres {
            assert!(lower.contains("nested loop") && lower.contains("subquery scan on us"), "{what}: {plan}");
        }
        if what.contains("realm list") {
            assert!(lower.contains("ix_user_sessions_live"), "{what}: {plan}");
        }
        // A client's sessions are its own ranges, never the realm's walked and probed.
        if what.contains("client list") || what.contains("walk") || what.contains("several clients") {
            assert!(lower.contains("ix_client_sessions_live"), "{what}: {plan}");
            assert!(!lower.contains("ix_user_sessions_live"), "{what}: {plan}");
        }
        // (PostgreSQL chooses between the two partial indexes by its statistics, which an
        // empty table does not have; SQLite is told.)
        // ... and reads nothing of the rows themselves (migration 16): behind a backlog the minute
        // holds a minute's expiries.
        if what.contains("this minute") && !postgres {
            assert!(lower.contains("using covering index ix_user_sessions_expiry"), "{what}: {plan}");
        }
        // The reaper's walks read only what they remove (SQLite is told by the literal state;
        // PostgreSQL, with sequential scans off, has no other index that serves them).
        if what.contains("timed-out") && !postgres {
            assert!(lower.contains("ix_user_sessions_expiry"), "{what}: {plan}");
        }
        // A recount reads the sessions counted, from the cut-off on, never the realm's whole
        // live index (whose order would save the totals a sort). (PostgreSQL: the cut-off is a
        // value it estimates by the index; on an empty table both indexes cost the same.)
        if what.contains("recount") && !postgres {
            assert!(lower.contains("ix_user_sessions_realm_started (realm_id=? and started_at>?)"), "{what}: {plan}");
        }
        if what.contains("ended rows") {
            assert!(lower.contains("ix_user_sessions_ended"), "{what}: {plan}");
        }
        if what.contains("minutes past") {
            assert!(lower.contains("session_counts"), "{what}: {plan}");
            // SQLite keeps the counts as one b-tree in their key's order (migration 15).
            if !postgres {
                assert!(lower.contains("session_counts using primary key"), "{what}: {plan}");
            }
            assert!(
                !lower.contains("seq scan on session_counts") && !lower.contains("scan session_counts\n"),
                "{what}: {plan}"
            );
        }
        assert!(!lower.contains("seq scan on user_sessions"), "{what}: {plan}");
        assert!(!lower.contains("seq scan on client_sessions"), "{what}: {plan}");
        assert!(
            !lower
                .lines()
                .any(|l| l.trim_start_matches(['|', '-', '`', ' ']).eq("scan us") || l.ends_with("scan user_sessions")),
            "{what} walks the whole table: {plan}"
        );
    }
    txn.rollback().await.unwrap();
}

/// `expires_at` is the liveness rule as one number: set when a session starts, moved by its
/// use, and by its realm's new limits.
async fn a_sessions_expiry_follows_its_use_and_its_realms_limits(db: TestDb) {
    let store = db.store().await;
    store.migrate().await.unwrap();
    let (mut realm, user, _) = realm_with_user_and_client(&store).await;
    let started = now();
    let session = UserSession::start(realm.id, user.id, SessionType::Regular, "10.0.0.1", false, started);
    sessions::insert_user_session(store.conn(), &session).await.unwrap();
    let expiry = |id: SessionId| {
        let store = &store;
        async move {
            use sea_orm::EntityTrait;
            latchkey_store::entity::user_session::Entity::find_by_id(id.as_uuid())
                .one(store.conn())
                .await
                .unwrap()
                .unwrap()
                .expires_at
        }
    };
    let idle = realm.limits.sso_idle * 1000;
    assert_eq!(expiry(session.id).await, started.as_millis() + idle, "idle first");
    let later = started.plus_secs(120);
    assert!(sessions::touch(&store, session.id, later, 60_000).await.unwrap());
    assert_eq!(expiry(session.id).await, later.as_millis() + idle, "moved by its use");
    // A second session started in the same millisecond: a batch of one takes both.
    let twin = UserSession::start(realm.id, user.id, SessionType::Regular, "10.0.0.2", false, started);
    sessions::insert_user_session(store.conn(), &twin).await.unwrap();
    let before = realm.clone();
    realm.limits.sso_max = 600;
    realms::update_changed(store.conn(), &before, &realm).await.unwrap();
    assert_eq!(expiry(session.id).await, later.as_millis() + idle, "the change itself writes no session");
    let job = jobs::pending(store.conn()).await.unwrap().into_iter().find(|j| j.kind == jobs::JobKind::RealmLimits);
    let job = job.expect("new limits queue a job");
    let mut from = Timestamp::from_millis(i64::MIN);
    let mut batches = 0;
    while let Some((to, _)) = sessions::reexpire(store.conn(), realm.id, from, job.cutoff, 1).await.unwrap() {
        from = to;
        batches += 1;
    }
    assert_eq!(batches, 1, "sessions sharing a start move in one batch");
    assert_eq!(expiry(session.id).await, started.as_millis() + 600_000, "capped by the new max lifespan");
    assert_eq!(expiry(twin.id).await, started.as_millis() + 600_000);
    let offline = UserSession::start(realm.id, user.id, SessionType::Offline, "10.0.0.1", false, started);
    sessions::insert_user_session(store.conn(), &offline).await.unwrap();
    assert_eq!(expiry(offline.id).await, started.as_millis() + realm.limits.offline_idle * 1000);
}

/// SQLite's write-ahead log is rewound under a steady stream of commits — one transaction
/// after another, as the reaper writes its batches — rather than growing by every page written
/// until a writer checkpoints it at 1 GiB (a mass expiry grew it by ~130 MB a second).
#[tokio::test]
async fn the_write_ahead_log_is_rewound_under_a_steady_stream_of_commits() {
    use sea_orm::ConnectionTrait;
    let db = TestDb::sqlite();
    let store = db.migrated_store().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let checkpointer = tokio::spawn({
        let store = store.clone();
        async move { store.keep_checkpointed(stopped).await }
    });
    store.conn().execute_unprepared("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB)").await.unwrap();
    let log = db.url().sqlite_path().unwrap().with_extension("db-wal");
    // 400 MB of pages, 100 of them a transaction, back to back.
    let mut largest = 0;
    for _ in 0..1_000 {
        let txn = store.begin().await.unwrap();
        txn.execute_unprepared(
            "INSERT INTO scratch (body) SELECT randomblob(4000) FROM \
             (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n)",
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        largest = largest.max(std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0));
    }
    stop.send(true).unwrap();
    checkpointer.await.unwrap();
    // Rewound past 64 MiB of pages, every half second: what is written between two turns
    // (under 100 MB here) on top. Never rewound, the log holds all 400 MB.
    assert!(largest < 250 << 20, "the log grew to {} MB", largest >> 20);
}

/// On SQLite every statement runs in the server's process, on the connection's own thread: the
/// background pool's (the reaper's) threads run at a lower CPU priority than the rest, so an
/// administrator's list sharing the core with a mass expiry being ended gets most of it.
#[tokio::test]
async fn background_statements_run_at_a_lower_cpu_priority() {
    use sea_orm::ConnectionTrait;
    let base = thread_nices().into_iter().min().unwrap();
    let lowered = || thread_nices().into_iter().filter(|n| *n == (base + 10).min(19)).count();
    assert_eq!(lowered(), 0, "nothing lowered before a store is opened");
    let db = TestDb::sqlite();
    let store = db.migrated_store().await;
    store.background().conn().execute_unprepared("SELECT count(*) FROM user_sessions").await.unwrap();
    let background = lowered();
    assert!(background >= 1, "no thread of the background connections runs at a lower priority");
    // Eight reads at once on the server's own pool open connections (each a thread of its
    // own) at the server's priority: none more is lowered.
    let reads = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store.conn().execute_unprepared(SLOW_READ).await.unwrap();
        })
    });
    for read in reads.collect::<Vec<_>>() {
        read.await.unwrap();
    }
    assert_eq!(lowered(), background, "a connection of the server's own pool was lowered");
}

/// A read that takes a few milliseconds, so that eight at once overlap.
const SLOW_READ: &str =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n";

/// The nice value of every thread of this process (Linux keeps one per thread).
fn thread_nices() -> Vec<i64> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        // After the command's closing parenthesis: state is the 3rd field, nice the 19th.
        .map(|stat| stat.rsplit_once(')').unwrap().1.split_whitespace().nth(16).unwrap().parse().unwrap())
        .collect()
}
