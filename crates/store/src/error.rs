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
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(what)) => StoreError::Conflict(what),
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
