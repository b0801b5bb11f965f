//! The test harness: fresh databases (SQLite always, PostgreSQL when `LATCHKEY_TEST_POSTGRES`
//! names a server) and the real server started on port 0 against them.
//!
//! Every database-backed test is written once and run on both backends with [`backend_tests!`].

pub mod browser;
pub mod calls;
pub mod receiver;
pub mod rp;

use std::path::PathBuf;

use latchkey_server::config::AdminCredentials;
use latchkey_server::{Application, Config};
use latchkey_store::{DatabaseUrl, Store};
use sea_orm::{ConnectionTrait, Database};

pub use latchkey_domain::Secret;

/// The environment variable naming a PostgreSQL server for tests, as
/// `postgres://postgres@127.0.0.1:5432/postgres`. Each test gets a database of its own there,
/// dropped afterwards.
pub const POSTGRES_ENV: &str = "LATCHKEY_TEST_POSTGRES";

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// A database that exists only for one test.
pub struct TestDb {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    PostgresDatabase { server: String, name: String },
}

impl TestDb {
    /// A new SQLite file in a fresh temporary directory.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("latchkey-test-{}", uuid::Uuid::new_v4().simple()));
        TestDb { url: DatabaseUrl::sqlite_file(dir.join("latchkey.db")), cleanup: Cleanup::Directory(dir) }
    }

    /// A new database on the PostgreSQL server named by `LATCHKEY_TEST_POSTGRES`, or `None`
    /// when that variable is unset (the test script says so loudly).
    pub async fn postgres() -> Option<Self> {
        let server = std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())?;
        let name = format!("latchkey_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&server).await.unwrap_or_else(|e| panic!("{POSTGRES_ENV}={server}: {e}"));
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the test database");
        admin.close().await.ok();
        let url = database_url_on(&server, &name).parse().expect("a valid PostgreSQL URL");
        Some(TestDb { url, cleanup: Cleanup::PostgresDatabase { server, name } })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect to the test database")
    }

    /// A store with the schema in place.
    pub async fn migrated_store(&self) -> Store {
        let store = self.store().await;
        store.migrate().await.expect("migrate the test database");
        store
    }

    /// Drops the PostgreSQL database now, closing every connection to it (used to see what
    /// the server does when its database goes away).
    pub async fn drop_now(&self) {
        if let Cleanup::PostgresDatabase { server, name } = &self.cleanup {
            drop_postgres(server, name).await;
        }
    }
}

fn database_url_on(server: &str, database: &str) -> String {
    let mut url = url::Url::parse(server).expect("LATCHKEY_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

async fn drop_postgres(server: &str, name: &str) {
    if let Ok(admin) = Database::connect(server).await {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        admin.close().await.ok();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { server, name } => {
                let (server, name) = (server.clone(), name.clone());
                // Drop runs inside the test's runtime; a thread with its own runtime can block.
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime for cleanup")
                        .block_on(drop_postgres(&server, &name));
                })
                .join();
            }
        }
    }
}

/// The real server, running on a free port of 127.0.0.1 until dropped.
pub struct TestServer {
    pub address: std::net::SocketAddr,
    pub http: reqwest::Client,
    /// The session lifecycle: the application state and the session operations (ending, logout-all, revocation).
    pub life: std::sync::Arc<latchkey_lifecycle::Lifecycle>,
    /// Where `/metrics` is served, when the configuration asked for it.
    pub metrics_address: Option<std::net::SocketAddr>,
    handle: latchkey_server::app::ServerHandle,
}

impl TestServer {
    /// Starts a server on `db` with the standard test administrator.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server on `db` after `adjust` has changed its configuration.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(db);
        adjust(&mut config);
        Self::try_start(config).await.expect("the server starts")
    }

    pub async fn try_start(config: Config) -> Result<Self, latchkey_server::StartError> {
        let app = Application::build(config).await?;
        let address = app.address();
        let handle = app.handle();
        let life = app.life();
        let metrics_address = app.metrics_address();
        tokio::spawn(app.run_until_stopped());
        Ok(TestServer {
            address,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            life,
            metrics_address,
            handle,
        })
    }

    /// Stops the server and waits until it no longer listens (so its port can be reused by a
    /// server standing in for another node at the same public address).
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("the server answers")
    }

    /// Waits until no notification waits for delivery — each was delivered, given up or
    /// skipped — so what a receiver got can be counted: a message sent twice would have been
    /// sent by now. Panics after `timeout`.
    pub async fn outbox_settled(&self, timeout: std::time::Duration) {
        let give_up = tokio::time::Instant::now() + timeout;
        loop {
            let backlog = latchkey_store::outbox::backlog(self.life.store.conn()).await.expect("the outbox is read");
            if backlog == 0 {
                return;
            }
            assert!(tokio::time::Instant::now() < give_up, "{backlog} notifications still pending after {timeout:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let stopping = self.handle.stop(false);
        drop(stopping);
    }
}

/// The claims of a JWT, unverified (the tests that need verification use the receiver's).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The configuration tests start from: `db`, port 0, one worker, the test administrator, and
/// notifications allowed to loopback (the tests' receivers listen there).
pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::for_database(db.url().clone());
    config.allow_private_targets = true;
    config.admin = Some(AdminCredentials { username: ADMIN_USER.into(), password: Secret::new(ADMIN_PASSWORD) });
    config
}

/// Runs each listed `async fn name(db: TestDb)` on SQLite and on PostgreSQL, as the tests
/// `sqlite::name` and `postgres::name`. Without `LATCHKEY_TEST_POSTGRES` the PostgreSQL
/// variants return at once, and the test script reports that they were skipped.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestDb::sqlite()).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )+
        }
    };
}

/// Whether what a group of tests needs from the machine is there (each `(present, what)`);
/// when it is not and `require_var` is `1` (CI), that is a failure, otherwise a loud skip.
pub fn requirements_met(tests: &str, require_var: &str, needs: &[(bool, &str)]) -> bool {
    let missing: Vec<&str> = needs.iter().filter(|(present, _)| !present).map(|(_, what)| *what).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("{tests} need: {}", missing.join(", "));
    assert!(std::env::var(require_var).as_deref() != Ok("1"), "{message}");
    eprintln!("\n##### SKIPPED: {message} #####\n");
    false
}
