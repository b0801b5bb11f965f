use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, IsolationLevel,
    TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};

use crate::{Migrator, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL that has been checked: `sqlite://<path>` (or `sqlite::memory:`) or
/// `postgres://…` / `postgresql://…`. Its `Display` hides any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// The SQLite database file at `path`.
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        DatabaseUrl { url: format!("sqlite://{}", path.into().display()), backend: Backend::Sqlite }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The SQLite file this URL names, if it is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite://").or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

impl FromStr for DatabaseUrl {
    type Err = StoreError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:") {
            let url = DatabaseUrl { url: raw.to_owned(), backend: Backend::Sqlite };
            if url.sqlite_path().is_none() && !raw.contains(":memory:") {
                return Err(StoreError::InvalidUrl(format!(
                    "'{raw}' names no SQLite file (use sqlite://path/to/file.db)"
                )));
            }
            return Ok(url);
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw)
                .map_err(|e| StoreError::InvalidUrl(format!("'{}' is not a valid URL: {e}", redact(raw))))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(StoreError::InvalidUrl(format!("'{}' names no host", redact(raw))));
            }
            return Ok(DatabaseUrl { url: raw.to_owned(), backend: Backend::Postgres });
        }
        Err(StoreError::InvalidUrl(format!(
            "'{}' is not supported: use sqlite://<file> or postgres://<user>@<host>/<database>",
            redact(raw)
        )))
    }
}

/// The URL with any password replaced by `***`.
/// Query parameters of a database URL that hold a secret (`?password=`, TLS key passwords).
const SECRET_PARAMS: &[&str] = &["password", "sslpassword", "passfile", "sslkey"];

fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            if url.query_pairs().any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str())) {
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                        (k.into_owned(), if secret { "***".to_owned() } else { v.into_owned() })
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        // Unparseable: hide whatever stands between `user:` and `@`.
        Err(_) => match (raw.find("://"), raw.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &raw[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &raw[..scheme_end + 3], &raw[at..])
                    }
                    None => raw.to_owned(),
                }
            }
            _ => raw.to_owned(),
        },
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn connect_error(url: &DatabaseUrl, reason: String) -> StoreError {
    StoreError::Connect { url: url.to_string(), reason }
}

/// The innermost message of a connection error, without sea-orm's repeated prefixes.
fn db_err_reason(err: sea_orm::DbErr) -> String {
    match err {
        sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => e.to_string(),
        other => other.to_string(),
    }
}

/// The page cache of each background connection: a reaper batch of 500 sessions changes ~5,000
/// pages (20 MB); SQLite's default cache (2 MB) wrote most of them to the log before the commit,
/// some twice. With it 4,519-4,692 ended a second against 4,111-4,418 (three runs each, the same
/// copy of a million `30-days` sessions, no calls).
const SQLITE_BACKGROUND_CACHE_KIB: u64 = 64 << 10;
/// Rows a statement's worker thread hands over before it waits for them to be taken (sqlx's
/// default is 50): on one core each wait is two context switches, a reaper batch reads and
/// returns ~2,300 rows (4,652-4,818 ended a second against 4,603-4,631, two runs each).
const SQLITE_ROW_BUFFER: usize = 4096;
/// How long a SQLite connection waits for the write lock before giving up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the database file SQLite reads through memory mapping rather than `read` calls
/// into each connection's own page cache: pages are read in place from the operating system's
/// cache, shared by every connection, instead of copied per connection (a pass of the reaper
/// over a million sessions spent a third of its time copying pages). Mapped pages are the
/// file's cache, not the process's own memory: the kernel reclaims them under pressure.
const SQLITE_MMAP_BYTES: u64 = 4 << 30;

/// WAL pages after which a committing writer checkpoints the log itself. Checkpoints are the
/// checkpointer's job ([`Store::keep_checkpointed`]), which runs beside the writers; a writer
/// does one only when the log has grown this far regardless (1 GiB: the log is rewound only
/// when a writer finds it wholly copied, which under a steady stream of commits is seldom, so a
/// smaller bound had writers copying what the checkpointer had not reached yet). With writers
/// checkpointing every 16,384 pages, the reaper ending a million timed-out sessions spent 45 %
/// of its time in the checkpoints of its own commits.
const SQLITE_WRITER_CHECKPOINT_PAGES: u32 = 262_144;

/// What the log file is cut back to when it is rewound (bytes): above what it holds between
/// two rewinds under a steady stream of writes, so its blocks are written again rather than
/// allocated again.
const SQLITE_LOG_KEPT_BYTES: u64 = 128 << 20;

/// Pages in the log beyond which the checkpointer has it rewound (64 MiB of pages). A writer
/// rewinds the log only when its own snapshot began with the log wholly copied, which under a
/// steady stream of commits (the reaper's batches, one after another) it never does: the log
/// then grew by ~130 MB a second while the reaper ended sessions, to 1.5 GB in 15 s, every page
/// written to it a block the file system allocated (and zeroed) first. Rewound, it stays near
/// [`SQLITE_LOG_KEPT_BYTES`] and the reaper ends 5-13 % more a second (1M sessions, three runs
/// each, `docs/benchmarks.md`).
const SQLITE_REWIND_PAGES: i64 = 16_384;

/// How long the rewinding checkpoint waits, for the write lock and for the readers still in the
/// log, before it gives up until its next turn: writers wait for it meanwhile, so never long.
/// (It often finds a reaper batch holding the lock and tries again; 250 ms did no better.)
const SQLITE_REWIND_WAIT: Duration = Duration::from_millis(20);

/// How often the checkpointer copies what the log holds into the database file.
const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How much lower the CPU priority of the background connections' threads is than the
/// server's (a nice value, added): when an administrator's read and a reaper batch both want
/// the core, the read gets ~90 % of it (the scheduler's weights for nice 0 and 10 are 1024 and
/// 110) instead of half; when nothing else runs, the reaper has the whole core as before.
/// Not lower: a reaper held to a sliver of a busy core would let timed-out sessions pile up,
/// and what is timed out but not ended is what the counts' correction reads.
const BACKGROUND_NICE: i32 = 10;

/// The SQLite pool: WAL (readers never wait for the writer), foreign keys on, `NORMAL`
/// synchronous (a commit is durable at the next checkpoint's sync; a power cut can lose the last
/// commits, never corrupt the file), and the prompt busy handler below on every connection.
/// The background pool's connections also lower their own thread's CPU priority (see
/// [`Store::background`]).
async fn sqlite_pool(
    url: &DatabaseUrl,
    options: ConnectOptions,
    background: bool,
) -> Result<DatabaseConnection, StoreError> {
    use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnectOptions};
    use sea_orm::sqlx::ConnectOptions as _;
    let connect = SqliteConnectOptions::from_str(url.as_str())
        .map_err(|e| connect_error(url, e.to_string()))?
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
        .pragma("wal_autocheckpoint", SQLITE_WRITER_CHECKPOINT_PAGES.to_string())
        .pragma("journal_size_limit", SQLITE_LOG_KEPT_BYTES.to_string())
        .row_buffer_size(SQLITE_ROW_BUFFER)
        .disable_statement_logging();
    // The background pool's transactions change thousands of pages each (a reaper batch): they
    // are kept in its cache rather than spilled to the log before the commit.
    let connect =
        if background { connect.pragma("cache_size", format!("-{SQLITE_BACKGROUND_CACHE_KIB}")) } else { connect };
    let pool = options
        .sqlx_pool_options::<Sqlite>()
        .after_connect(move |conn, _| {
            Box::pin(async move {
                prompt_busy_handler(conn.lock_handle().await?.as_raw_handle());
                if background {
                    lower_priority(conn).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect)
        .await
        .map_err(|e| connect_error(url, e.to_string()))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Replaces SQLite's default busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between
/// tries: a writer that finds the lock taken by a transaction of 50 ms then sleeps long past
/// its end, and every short write (a token refresh, the notifier's record of a round) behind
/// a long one (a reaper batch) waits up to twice as long as it must. This one tries again every
/// 0.2 ms for the first 10 ms and every millisecond after, for [`SQLITE_BUSY_TIMEOUT`] in all.
fn prompt_busy_handler(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) {
    extern "C" fn retry(_: *mut std::ffi::c_void, tries: std::ffi::c_int) -> std::ffi::c_int {
        let (quick, quick_pause, pause) = (50, Duration::from_micros(200), Duration::from_millis(1));
        let waited = quick_pause * tries.min(quick) as u32 + pause * (tries - quick).max(0) as u32;
        if waited >= SQLITE_BUSY_TIMEOUT {
            return 0;
        }
        std::thread::sleep(if tries < quick { quick_pause } else { pause });
        1
    }
    // SAFETY: `db` is the live connection handle sqlx lent us under its lock; the handler is a
    // plain function with no state, valid for the life of the program.
    unsafe {
        libsqlite3_sys::sqlite3_busy_handler(db.as_ptr(), Some(retry), std::ptr::null_mut());
    }
}

/// Lowers the CPU priority of the thread the connection runs its statements on by
/// [`BACKGROUND_NICE`]: a SQLite connection of sqlx runs every statement on one thread of its
/// own, so a function of the connection called once (`latchkey_lower_priority()`) lowers every
/// later statement. Where the system refuses, the connection keeps working at the server's
/// priority (a warning says so).
async fn lower_priority(conn: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    lower_priority_function(conn.lock_handle().await?.as_raw_handle());
    let lowered: i64 = sea_orm::sqlx::query_scalar("SELECT latchkey_lower_priority()").fetch_one(&mut *conn).await?;
    if lowered != 0 {
        tracing::warn!(
            error = %std::io::Error::from_raw_os_error(lowered as i32),
            "a background connection's thread keeps the server's CPU priority"
        );
    }
    Ok(())
}

/// Gives the connection a function, `latchkey_lower_priority()`, that lowers the CPU priority of
/// the thread it runs on by [`BACKGROUND_NICE`] (on Linux a nice value is the thread's own) and
/// answers 0, or the error number when the system refused. A SQLite connection of the pool runs
/// every statement on one thread of its own, so calling it once lowers every later statement.
fn lower_priority_function(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) {
    use libsqlite3_sys as ffi;
    extern "C" fn lower(ctx: *mut ffi::sqlite3_context, _: std::ffi::c_int, _: *mut *mut ffi::sqlite3_value) {
        let failed = lower_this_thread().err().and_then(|e| e.raw_os_error()).unwrap_or(0);
        // SAFETY: `ctx` is the context SQLite passes to this call of the function.
        unsafe { ffi::sqlite3_result_int64(ctx, failed.into()) }
    }
    // SAFETY: `db` is the live connection handle sqlx lent us under its lock; the function is a
    // plain one with no user data, valid for the life of the program.
    unsafe {
        ffi::sqlite3_create_function_v2(
            db.as_ptr(),
            c"latchkey_lower_priority".as_ptr(),
            0,
            ffi::SQLITE_UTF8,
            std::ptr::null_mut(),
            Some(lower),
            None,
            None,
            None,
        );
    }
}

/// Lowers the calling thread's CPU priority by [`BACKGROUND_NICE`] (Linux: a nice value is a
/// thread's own; elsewhere nothing is changed).
fn lower_this_thread() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, no memory passed.
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
            if nice == -1 && *libc::__errno_location() != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setpriority(libc::PRIO_PROCESS, tid, (nice + BACKGROUND_NICE).min(19)) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The checkpointer's busy handler: tries again every 0.2 ms for [`SQLITE_REWIND_WAIT`], then
/// gives up (writers queue behind a `RESTART` while it waits).
fn impatient_busy_handler(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) {
    extern "C" fn retry(_: *mut std::ffi::c_void, tries: std::ffi::c_int) -> std::ffi::c_int {
        let pause = Duration::from_micros(200);
        if pause * tries.max(0) as u32 >= SQLITE_REWIND_WAIT {
            return 0;
        }
        std::thread::sleep(pause);
        1
    }
    // SAFETY: as in `prompt_busy_handler`.
    unsafe {
        libsqlite3_sys::sqlite3_busy_handler(db.as_ptr(), Some(retry), std::ptr::null_mut());
    }
}

/// One checkpoint of the write-ahead log in `mode`; answers whether it was cut short (busy) and
/// the pages the log holds.
async fn checkpoint(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    mode: &str,
) -> Result<(bool, i64), sea_orm::sqlx::Error> {
    let (busy, log, _copied): (i64, i64, i64) =
        sea_orm::sqlx::query_as(&format!("PRAGMA wal_checkpoint({mode})")).fetch_one(conn).await?;
    Ok((busy != 0, log))
}

/// Pages in the log (256 MiB) past which the checkpointer has the background writers give way
/// to its rewind (see `Rewind`): below, a rewind found no gap costs only a turn, and pausing the
/// reaper at every turn (one every 500 ms while a mass expiry fills 64 MiB in a few batches)
/// would slow it.
const SQLITE_INSIST_PAGES: i64 = 4 * SQLITE_REWIND_PAGES;

/// Tries to rewind the log this many times in a row (each waiting at most
/// [`SQLITE_REWIND_WAIT`]) while the background writers give way.
const REWIND_TRIES: u32 = 5;

/// The connection pool, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    backend: Backend,
    /// The background pool (see [`Store::background`]); `None` where it is `db` itself.
    background: Option<DatabaseConnection>,
    /// Whether this is the background store, whose transactions give way to a rewind.
    yields: bool,
    /// A rewind of SQLite's log the checkpointer is waiting to make (see [`Rewind`]).
    rewind: std::sync::Arc<Rewind>,
}

/// The checkpointer's turn to rewind SQLite's write-ahead log. A rewind (`RESTART`) needs the
/// write lock, which the reaper's batches, one after another, hold almost all the time: waiting
/// for a gap between them it seldom found one, and the log grew to 1 GiB, where the writer that
/// crossed it (a sign-in, a logout-all) copied the whole log inside its own commit (~1 s).
/// So while a rewind is wanted (the log past [`SQLITE_INSIST_PAGES`]), a background transaction
/// waits for it to be made (at most [`REWIND_GIVEN`]) before it begins.
#[derive(Debug, Default)]
struct Rewind {
    wanted: std::sync::atomic::AtomicBool,
    made: tokio::sync::Notify,
}

/// The longest a background transaction waits for the checkpointer's rewind: its tries, and
/// a batch then holding the lock.
const REWIND_GIVEN: Duration = Duration::from_millis(200);

impl Store {
    /// Opens the database. A SQLite file and its directory are created when missing; SQLite runs
    /// in WAL mode with foreign keys on, so readers never wait for the one writer.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        if let Some(dir) = url.sqlite_path().as_deref().and_then(|p| p.parent()) {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::InvalidUrl(format!("cannot create the directory {}: {e}", dir.display()))
                })?;
            }
        }
        if url.backend() == Backend::Postgres {
            // The pool retries a refused connection until its timeout and then reports only
            // that it timed out; one direct attempt first gives the operator the real reason.
            use sea_orm::sqlx::Connection;
            let probe = tokio::time::timeout(CONNECT_TIMEOUT, sea_orm::sqlx::PgConnection::connect(url.as_str()))
                .await
                .map_err(|_| connect_error(url, format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
                .map_err(|e| connect_error(url, e.to_string()))?;
            let _ = probe.close().await;
        }
        let mut options = ConnectOptions::new(url.as_str());
        // SQLite waits for its one writer; PostgreSQL answers at once, so a connection not had
        // within 3 s means it is down or restarting, and the request is answered 503 then
        // rather than held.
        let acquire = if url.backend() == Backend::Sqlite { 10 } else { 3 };
        options.sqlx_logging(false).connect_timeout(CONNECT_TIMEOUT).acquire_timeout(Duration::from_secs(acquire));
        let mut background = None;
        let db = if url.backend() == Backend::Sqlite {
            if url.sqlite_path().is_some() {
                // Two: the reaper's transactions one after another, and a read beside one.
                let mut options = options.clone();
                options.max_connections(2).min_connections(0);
                background = Some(sqlite_pool(url, options, true).await?);
            }
            options.max_connections(8);
            sqlite_pool(url, options, false).await?
        } else {
            // Every statement planned for its own values and the table as it is now. A plan
            // cached while the outbox was empty (PostgreSQL keeps a connection's generic plan
            // until the table is analyzed again) made each claim take 10–15 s once a
            // logout-all had filled it with a million messages; planning costs microseconds.
            options.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
            Database::connect(options).await.map_err(|e| connect_error(url, db_err_reason(e)))?
        };
        Ok(Store { db, backend: url.backend(), background, yields: false, rewind: Default::default() })
    }

    /// Whether [`Store::background`] is a pool of its own (SQLite on a file), rather than this
    /// store's.
    pub fn has_background_pool(&self) -> bool {
        self.background.is_some()
    }

    /// The store for background work (the reaper): on a SQLite file, a pool of its own whose
    /// connections' threads run at a lower CPU priority, so that on a busy core an
    /// administrator's list is not slowed by half while a mass expiry is being ended (SQLite
    /// runs every statement in the server's process; a reaper batch and a read in WAL mode
    /// never wait for each other, they share the core). Elsewhere the same pool: PostgreSQL
    /// runs statements in its own processes.
    pub fn background(&self) -> Store {
        match &self.background {
            Some(db) => Store {
                db: db.clone(),
                backend: self.backend,
                background: None,
                yields: true,
                rewind: self.rewind.clone(),
            },
            None => self.clone(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db).await.map_err(StoreError::Migration)?.len();
        Migrator::up(&self.db, None).await.map_err(StoreError::Migration)?;
        Ok(pending)
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db).await.map_err(StoreError::Migration)?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// True when no migration has ever been applied: a database Latchkey has never used.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let applied = Migrator::get_applied_migrations(&self.db).await.map_err(StoreError::Migration)?;
        Ok(applied.is_empty())
    }

    /// Reverts every migration, dropping every table (for tests and development).
    pub async fn rollback_all(&self) -> Result<(), StoreError> {
        Migrator::down(&self.db, None).await.map_err(StoreError::Migration)
    }

    /// The tables and indexes of the schema that this database lacks, as `table` or
    /// `table.index`; empty when the schema is whole.
    pub async fn missing_schema(&self) -> Result<Vec<String>, StoreError> {
        let manager = SchemaManager::new(&self.db);
        let mut missing = Vec::new();
        for table in crate::migration::TABLES {
            if !manager.has_table(*table).await? {
                missing.push((*table).to_owned());
            }
        }
        for (table, index) in crate::migration::INDEXES {
            if !manager.has_index(*table, *index).await? {
                missing.push(format!("{table}.{index}"));
            }
        }
        Ok(missing)
    }

    /// Leaves the tables after a bulk load as a running server's are kept: the query planner's
    /// statistics fresh (`ANALYZE`) and, on PostgreSQL, vacuumed as autovacuum keeps them
    /// (`VACUUM (ANALYZE)`). A bulk load leaves no page marked all-visible, so until autovacuum
    /// comes every index-only scan reads the table for each entry: a client's page at 10,000
    /// read 10,100 table rows, 8,000 pages outside shared buffers, setting each row's hint bits
    /// and writing out the pages it evicted (91 ms).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let statement = if self.backend == Backend::Postgres { "VACUUM (ANALYZE)" } else { "ANALYZE" };
        self.db.execute_unprepared(statement).await?;
        Ok(())
    }

    /// PostgreSQL: vacuums the session tables (`VACUUM (SKIP_LOCKED)`: not while autovacuum is
    /// at one already), marking their pages all-visible again. Every row removed or changed
    /// clears its page's mark, and an index-only scan reads the table row of each entry on an
    /// unmarked page: after a mass expiry at a million sessions a client's page at 10,000 read
    /// 8,400 rows (p50 31 ms against 10 ms once vacuumed) for the three minutes autovacuum took
    /// to come (it waits for a fifth of the table to change, then works at its throttled pace).
    /// SQLite has no such marks (a freed page is reused): nothing to do.
    pub async fn vacuum_sessions(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            self.db.execute_unprepared("VACUUM (SKIP_LOCKED) user_sessions, client_sessions").await?;
        }
        Ok(())
    }

    /// SQLite: at a lower CPU priority (as [`Store::background`]'s connections), copies the
    /// write-ahead log into the database file every
    /// [`SQLITE_CHECKPOINT_EVERY`] until `stop`, beside the writers (`PASSIVE`: it waits for no
    /// reader or writer and none waits for it), so that a commit does not pay for the checkpoint
    /// its pages would otherwise trigger; and when the log has grown past
    /// [`SQLITE_REWIND_PAGES`], has it rewound (`RESTART`: it waits, at most
    /// [`SQLITE_REWIND_WAIT`], until no reader is still in the log, and the next writer starts it
    /// again from the beginning). On a connection of its own, whose busy handler gives up after
    /// that wait. Returns at once on PostgreSQL.
    pub async fn keep_checkpointed(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        use sea_orm::sqlx::ConnectOptions as _;
        if self.backend != Backend::Sqlite {
            return;
        }
        let options = self.db.get_sqlite_connection_pool().connect_options();
        let mut conn = match options.connect().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::error!(%error, "the write-ahead log's checkpointer could not connect; writers checkpoint it");
                return;
            }
        };
        match conn.lock_handle().await {
            Ok(mut handle) => impatient_busy_handler(handle.as_raw_handle()),
            Err(error) => tracing::warn!(%error, "the checkpointer's busy handler could not be set"),
        }
        // Copying the log is background work, as the reaper's (see [`Store::background`]): a
        // server started on a long log (one not checkpointed by a clean stop) copies it without
        // halving the first requests' share of the core.
        if let Err(error) = lower_priority(&mut conn).await {
            tracing::warn!(%error, "the checkpointer keeps the server's CPU priority");
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SQLITE_CHECKPOINT_EVERY) => {}
                _ = stop.changed() => return,
            }
            match checkpoint(&mut conn, "PASSIVE").await {
                Ok((_, log)) if log > SQLITE_REWIND_PAGES => {
                    // Past SQLITE_INSIST_PAGES the background writers give way (see `Rewind`):
                    // the batch holding the lock now is the last before the rewind. Below it a
                    // rewind is tried once, costing the writers nothing. Busy (the lock or a
                    // reader held past the waits) is an answer, not an error: the next turn
                    // tries again.
                    let insist = log > SQLITE_INSIST_PAGES;
                    if insist {
                        self.rewind.wanted.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    for _ in 0..if insist { REWIND_TRIES } else { 1 } {
                        match checkpoint(&mut conn, "RESTART").await {
                            Ok((false, _)) => break,
                            Ok((true, _)) => {}
                            Err(error) => tracing::debug!(%error, "the write-ahead log was not rewound this time"),
                        }
                    }
                    if insist {
                        self.rewind.wanted.store(false, std::sync::atomic::Ordering::SeqCst);
                        self.rewind.made.notify_waiters();
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the write-ahead log could not be checkpointed"),
            }
        }
    }

    /// A round trip to the database (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::Database)
    }

    /// A transaction for writing. On SQLite it takes the write lock at once (waiting up to the
    /// busy timeout for it): a deferred transaction that reads first and writes later fails
    /// outright with `SQLITE_BUSY_SNAPSHOT` when another writer committed in between.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        if self.yields && self.rewind.wanted.load(std::sync::atomic::Ordering::SeqCst) {
            let made = self.rewind.made.notified();
            // Wanted still (it may have been made between the two reads): wait for it.
            if self.rewind.wanted.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = tokio::time::timeout(REWIND_GIVEN, made).await;
            }
        }
        let txn = self.db.begin().await?;
        if self.backend == Backend::Sqlite {
            txn.execute_unprepared("UPDATE realms SET name = name WHERE 1 = 0").await?;
        }
        Ok(txn)
    }

    /// A read-only view of one instant, for answers made of several reads (a maintained count
    /// and the timed-out sessions it still holds; a page and its total): every query in it
    /// sees the same snapshot — REPEATABLE READ on PostgreSQL; on SQLite a deferred transaction
    /// reads one snapshot of the WAL. Dropping it ends it.
    pub async fn snapshot(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(match self.backend {
            Backend::Postgres => {
                self.db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
            }
            Backend::Sqlite => self.db.begin().await?,
        })
    }

    /// The pool, for reads outside a transaction.
    pub fn conn(&self) -> &impl ConnectionTrait {
        &self.db
    }

    /// The connection pool's size and how many of its connections are idle.
    pub fn pool_use(&self) -> (u32, usize) {
        match self.backend {
            Backend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            Backend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }

    pub async fn close(self) -> Result<(), StoreError> {
        if let Some(background) = self.background {
            background.close().await.map_err(StoreError::Database)?;
        }
        self.db.close().await.map_err(StoreError::Database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        let pg: DatabaseUrl = "postgres://lk:s3cret@db.internal:5432/latchkey".parse().unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert!(!pg.to_string().contains("s3cret"));
        assert!(!format!("{pg:?}").contains("s3cret"));
        let in_query: DatabaseUrl =
            "postgres://db.internal/latchkey?user=lk&password=s3cret&sslmode=require".parse().unwrap();
        assert!(!in_query.to_string().contains("s3cret") && in_query.to_string().contains("sslmode=require"));
        assert!(!format!("{in_query:?}").contains("s3cret"));

        let file: DatabaseUrl = "sqlite://data/latchkey.db?mode=rwc".parse().unwrap();
        assert_eq!(file.sqlite_path(), Some(PathBuf::from("data/latchkey.db")));
        assert_eq!("sqlite::memory:".parse::<DatabaseUrl>().unwrap().sqlite_path(), None);

        for bad in ["mysql://x/y", "latchkey.db", "postgres://", "sqlite://", "postgres://u:pw@/db"] {
            let err = bad.parse::<DatabaseUrl>().unwrap_err().to_string();
            assert!(!err.contains(":pw@"), "{err}");
            assert!(err.starts_with("invalid database URL"), "{bad}: {err}");
        }
    }
}
