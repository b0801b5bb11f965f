//! First start, later starts, the refusal of an empty database without an administrator, and
//! the demo realm.

use latchkey_domain::{AdminRole, ClientKind, Protocol, Secret, Timestamp};
use latchkey_server::bootstrap::{self, BootstrapError, Bootstrapped, DEMO_WEB_SECRET};
use latchkey_server::config::AdminCredentials;
use latchkey_server::StartError;
use latchkey_store::{clients, realms, users};
use latchkey_tests::{backend_tests, test_config, TestDb, TestServer, ADMIN_PASSWORD, ADMIN_USER};

backend_tests!(
    first_start_creates_master_its_administrator_and_admin_clients,
    an_empty_database_without_an_administrator_is_refused,
    later_starts_keep_what_is_there_and_need_no_administrator,
    the_demo_realm_is_created_once_with_its_users_and_clients,
    concurrent_first_starts_make_one_master_realm,
);

async fn first_start_creates_master_its_administrator_and_admin_clients(db: TestDb) {
    let _server = TestServer::start(&db).await;
    let store = db.store().await;

    let master = realms::find_by_name(store.conn(), "master").await.unwrap().expect("realm master");
    assert!(master.enabled);
    assert_eq!((master.limits.sso_idle, master.limits.sso_max, master.access_token_lifespan), (1800, 36000, 300));

    let admin = users::find_by_username(store.conn(), master.id, ADMIN_USER).await.unwrap().expect("the admin");
    assert!(admin.enabled);
    let hash = admin.password.expect("a password");
    assert!(hash.as_phc().starts_with("$argon2id$"));
    assert!(hash.verify(&Secret::new(ADMIN_PASSWORD)) && !hash.verify(&Secret::new("wrong")));
    assert_eq!(users::roles_of(store.conn(), admin.id).await.unwrap(), vec![AdminRole::Admin]);

    let cli = clients::find_by_client_id(store.conn(), master.id, "admin-cli").await.unwrap().unwrap();
    assert!(cli.is_public() && cli.direct_access_grants && !cli.standard_flow);
    let console = clients::find_by_client_id(store.conn(), master.id, "security-admin-console").await.unwrap().unwrap();
    assert!(console.is_public() && console.pkce_required && console.standard_flow);
    assert_eq!(console.redirect_uris, vec!["/console/*"]);

    assert_eq!(realms::find_by_name(store.conn(), "demo").await.unwrap(), None, "no demo unless asked");
}

async fn an_empty_database_without_an_administrator_is_refused(db: TestDb) {
    let mut config = test_config(&db);
    config.admin = None;
    match TestServer::try_start(config).await {
        Err(StartError::Bootstrap(BootstrapError::NoAdministrator)) => {}
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a server started on an empty database without an administrator"),
    }
    let message = BootstrapError::NoAdministrator.to_string();
    assert!(message.contains("LATCHKEY_ADMIN_USER") && message.contains("LATCHKEY_ADMIN_PASSWORD"));
    assert!(db.store().await.is_empty().await.unwrap(), "nothing was written");
}

async fn later_starts_keep_what_is_there_and_need_no_administrator(db: TestDb) {
    drop(TestServer::start(&db).await);

    let mut config = test_config(&db);
    config.admin = Some(AdminCredentials { username: "intruder".into(), password: Secret::new("other") });
    let server = TestServer::try_start(config).await.expect("a second start");
    drop(server);
    let mut config = test_config(&db);
    config.admin = None;
    let _server = TestServer::try_start(config).await.expect("a start without administrator settings");

    let store = db.store().await;
    let master = realms::find_by_name(store.conn(), "master").await.unwrap().unwrap();
    assert_eq!(users::find_by_username(store.conn(), master.id, "intruder").await.unwrap(), None);
    let admin = users::find_by_username(store.conn(), master.id, ADMIN_USER).await.unwrap().unwrap();
    assert!(admin.password.unwrap().verify(&Secret::new(ADMIN_PASSWORD)), "the first password stands");
    assert_eq!(realms::count(store.conn()).await.unwrap(), 1);
}

async fn the_demo_realm_is_created_once_with_its_users_and_clients(db: TestDb) {
    drop(TestServer::start_with(&db, |c| c.demo = true).await);
    drop(TestServer::start_with(&db, |c| c.demo = true).await);
    let store = db.store().await;
    assert_eq!(realms::count(store.conn()).await.unwrap(), 2);
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();

    for (name, password) in [("alice", "alice-password"), ("bob", "bob-password"), ("carol", "carol-password")] {
        let user = users::find_by_username(store.conn(), demo.id, name).await.unwrap().unwrap();
        assert!(user.password.unwrap().verify(&Secret::new(password)), "{name} has the documented password");
        assert_eq!(users::roles_of(store.conn(), user.id).await.unwrap(), vec![]);
    }
    let auditor = users::find_by_username(store.conn(), demo.id, "auditor").await.unwrap().unwrap();
    assert_eq!(users::roles_of(store.conn(), auditor.id).await.unwrap(), vec![AdminRole::ViewUsers]);
    let manager = users::find_by_username(store.conn(), demo.id, "realm-manager").await.unwrap().unwrap();
    assert_eq!(users::roles_of(store.conn(), manager.id).await.unwrap(), vec![AdminRole::RealmAdmin]);

    let all = clients::list(store.conn(), demo.id).await.unwrap();
    let ids: Vec<_> = all.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["admin-cli", "demo-saml", "demo-spa", "demo-web", "security-admin-console"],
        "every realm's own admin clients, and the demo applications"
    );
    let web = &all[3];
    assert!(matches!(&web.kind, ClientKind::Confidential { secret } if secret.verify(&Secret::new(DEMO_WEB_SECRET))));
    assert!(web.backchannel_logout_url.is_some());
    assert!(all[2].is_public() && all[2].pkce_required);
    assert_eq!(all[1].protocol, Protocol::Saml);
    assert!(all[4].pkce_required && all[4].redirect_uris == ["/console/*"]);
}

async fn concurrent_first_starts_make_one_master_realm(db: TestDb) {
    let store = db.migrated_store().await;
    let admin = AdminCredentials { username: "root".into(), password: Secret::new("pw") };
    let now = Timestamp::now();
    let (a, b) = tokio::join!(
        bootstrap::ensure_master(&store, Some(&admin), now),
        bootstrap::ensure_master(&store, Some(&admin), now)
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, Bootstrapped::Existing));
    assert_eq!(outcomes, [Bootstrapped::Created { username: "root".into() }, Bootstrapped::Existing]);
    assert_eq!(realms::count(store.conn()).await.unwrap(), 1);
    let master = realms::find_by_name(store.conn(), "master").await.unwrap().unwrap();
    assert_eq!(clients::list(store.conn(), master.id).await.unwrap().len(), 2);
}
