//! New limits of a realm no longer rewrite its sessions in the request that sets them.
//!
//! Migration 10's `tr_realms_expiry` moved every active session's `expires_at` in the
//! statement that changed the realm's idle timeout or max lifespan, and the counts were made
//! again in that transaction: at ten million sessions a request of minutes, holding the realm's
//! row (and with it every sign-in and the reaper) the whole time. The trigger goes; the change
//! queues a `REALM_LIMITS` session job instead, and the reaper moves the sessions' expiries and
//! their counts in batches (`store::sessions::reexpire`), each batch in its own transaction.
//! A session's own triggers (insert, use) stay: they read the realm's limits as they are.

use sea_orm_migration::prelude::*;

use super::m20261206_000010_expiry::{realm_trigger, run};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            run(db, "DROP TRIGGER IF EXISTS tr_realms_expiry ON realms").await?;
            run(db, "DROP FUNCTION IF EXISTS latchkey_realm_expiry()").await
        } else {
            run(db, "DROP TRIGGER IF EXISTS tr_realms_expiry").await
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        realm_trigger(m.get_connection()).await
    }
}
