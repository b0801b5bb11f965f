//! Latchkey's persistence: one schema on SQLite (the embedded default) and PostgreSQL.
//!
//! [`Store`] owns the connection pool. The repository modules ([`realms`], [`clients`],
//! [`users`], [`sessions`]) are free functions over any connection — the pool or a
//! transaction — taking and returning domain types.

mod convert;
mod db;
pub mod entity;
mod error;
mod migration;

pub mod catalog;
pub mod clients;
pub mod codes;
pub mod counts;
pub mod events;
pub mod jobs;
pub mod keys;
pub mod listing;
pub mod login_failures;
pub mod outbox;
pub mod realms;
pub mod seed;
pub mod sessions;
pub mod users;

pub use db::{Backend, DatabaseUrl, Store};
pub use error::StoreError;
pub use migration::Migrator;

/// How many migrations this build knows.
pub fn migration_count() -> usize {
    <Migrator as sea_orm_migration::MigratorTrait>::migrations().len()
}
pub use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
