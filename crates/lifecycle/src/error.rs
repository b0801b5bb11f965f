//! What can go wrong in a session's life, by meaning: each face of the server (OAuth errors,
//! the admin API's JSON errors) answers every kind the way its protocol says, never by
//! guessing from a status number.

use latchkey_store::StoreError;

use crate::keys::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The realm named does not exist or is disabled.
    #[error("realm not found")]
    RealmNotFound,
    /// Every password-hashing slot and waiting place is taken.
    #[error("every password-hashing slot is taken")]
    Busy,
    /// Too many failed authentications of one client from one address lately.
    #[error("too many failed client authentications; try again in {retry_after} seconds")]
    ClientThrottled { retry_after: i64 },
    /// A fault of the server itself (a signing key missing, a worker lost).
    #[error("{0}")]
    Internal(String),
}

impl LifecycleError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        LifecycleError::Internal(cause.to_string())
    }
}
