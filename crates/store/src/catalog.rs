//! The catalog version (see the migration `m20261129_000006_catalog_version`): a number that
//! every committed change to realms, clients, role grants or signing keys moves, and on
//! PostgreSQL the notifications that announce each move to every node.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, Statement};

use crate::{Backend, Store, StoreError};

/// The channel the catalog triggers notify on PostgreSQL.
pub const CHANNEL: &str = "latchkey_catalog";

/// The current catalog version.
pub async fn version(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_string(backend, "SELECT version FROM catalog_version WHERE id = 1"))
        .await?
        .ok_or_else(|| StoreError::Corrupt("catalog_version has no row".into()))?;
    Ok(row.try_get("", "version")?)
}

/// A node's subscription to catalog changes (PostgreSQL), on a connection of its own.
pub struct Changes(PgListener);

/// What the subscription heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The catalog moved to this version (committed).
    Changed(i64),
    /// The connection was lost and is being made again: anything may have changed meanwhile.
    Lost,
}

impl Store {
    /// Subscribes to catalog changes; `None` on SQLite, where one process holds the database
    /// and its own writes are all there is.
    pub async fn catalog_changes(&self) -> Result<Option<Changes>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let mut listener =
            PgListener::connect_with(self.db.get_postgres_connection_pool()).await.map_err(sqlx_error)?;
        listener.listen(CHANNEL).await.map_err(sqlx_error)?;
        Ok(Some(Changes(listener)))
    }
}

impl Changes {
    /// Waits for the next change, or for the loss of the connection (made again on the next
    /// call).
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        match self.0.try_recv().await.map_err(sqlx_error)? {
            None => Ok(Heard::Lost),
            Some(n) => Ok(n.payload().parse().map_or(Heard::Lost, Heard::Changed)),
        }
    }
}

fn sqlx_error(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))
}
