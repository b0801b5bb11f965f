use sea_orm::{DbErr, SqlErr};

/// What went wrong in the store. Unique-constraint violations become [`StoreError::Conflict`]
/// here, once, so the HTTP layer can answer 409 without looking at database messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot create the database directory {path}: {reason}")]
    Directory { path: String, reason: String },
    #[error("cannot open the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migration(DbErr),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored value is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(DbErr),
    /// The database cannot be reached now (down, restarting, no connection to be had in time):
    /// answered 503 so clients retry, never 500.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

/// Whether `err` says the database cannot be reached, rather than that a statement failed: no
/// connection within the pool's timeout, a connection lost or refused, or PostgreSQL shutting
/// down or not yet accepting connections (SQLSTATE classes 08 and 57).
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::RuntimeErr;
    let down = |e: &RuntimeErr| match e {
        RuntimeErr::SqlxError(Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed) => true,
        RuntimeErr::SqlxError(Sqlx::Database(db)) => {
            db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57"))
        }
        _ => false,
    };
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => down(e),
        _ => false,
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(what)) => StoreError::Conflict(what),
            _ if is_unavailable(&err) => StoreError::Unavailable(err.to_string()),
            _ => StoreError::Database(err),
        }
    }
}

impl From<latchkey_domain::DomainError> for StoreError {
    fn from(err: latchkey_domain::DomainError) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Maps a failed insert: a unique-constraint violation becomes a conflict naming `what`
/// (as "user 'alice'"), anything else stays a database error.
pub(crate) fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match StoreError::from(err) {
        StoreError::Conflict(_) => StoreError::Conflict(what()),
        other => other,
    }
}
