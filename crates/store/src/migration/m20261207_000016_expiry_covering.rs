//! `ix_user_sessions_expiry` carries what the counts' correction reads of each session.
//!
//! Every count subtracts the sessions timed out since the current minute began and not yet
//! ended (`counts::alive`): a range of this index, and for each entry the session's type and
//! start (and, for a client's count, its id to find the client sessions). Behind a backlog —
//! right after a start, with the sessions that timed out while the server was down — the minute
//! holds up to a minute's expiries until the reaper has ended them (16,000 at a million one-hour
//! sessions), and each was a lookup of its row in the table: the realm's first page took
//! 36–159 ms (p50) for the seconds that lasts (5–14 ms with this index). Carried in the index, the range is read
//! alone (43,000 entries: 74 → 13.5 ms on a copy). The reaper walks the same index as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Replaces the index with one on `columns`: as one script, so on one connection (another could
/// still hold the old index in its parsed schema and refuse the name), in a transaction.
async fn replace(m: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    let script = format!(
        "SAVEPOINT expiry_index; DROP INDEX IF EXISTS ix_user_sessions_expiry; \
         CREATE INDEX ix_user_sessions_expiry ON user_sessions ({columns}) WHERE state = 'ACTIVE'; \
         RELEASE expiry_index;"
    );
    m.get_connection().execute_unprepared(&script).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        replace(m, "realm_id, expires_at, session_type, started_at, id").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        replace(m, "realm_id, expires_at").await
    }
}
