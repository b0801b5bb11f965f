//! On SQLite the maintained counts are kept in their key's order, as one b-tree
//! (`WITHOUT ROWID`).
//!
//! `session_counts` was a table of row ids with its primary key a second b-tree beside it, so
//! every row written or removed was written in both. A logout-all's recount removes every row
//! of the realm: 243,000 rows for a million sessions spread over 30 days, 370-390 ms; kept as
//! one b-tree, 118-122 ms. Every sign-in, ending and touch upserts a few rows, and every count
//! reads ranges of the key, now with `n` in the key's own pages. PostgreSQL's tables have no
//! such choice: nothing changes there.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table's definition, with `options` after it.
fn table(name: &str, options: &str) -> String {
    format!(
        "CREATE TABLE {name} (realm_id uuid_text NOT NULL, client_id uuid_text NOT NULL, \
         session_type varchar(16) NOT NULL, bucket bigint NOT NULL, slot smallint NOT NULL, n bigint NOT NULL, \
         PRIMARY KEY (realm_id, client_id, session_type, bucket, slot), \
         FOREIGN KEY (realm_id) REFERENCES realms (id) ON DELETE CASCADE){options}"
    )
}

/// Rebuilds `session_counts` with `options`, its rows kept: as one script, so on one connection
/// (another could still hold the old table in its parsed schema, and refuse the new name), and
/// under a savepoint, so a crash leaves the old table or the new one, never neither.
async fn rebuild(m: &SchemaManager<'_>, options: &str) -> Result<(), DbErr> {
    let db = m.get_connection();
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let script = format!(
        "SAVEPOINT rebuild_session_counts; {}; \
         INSERT INTO session_counts_rebuilt (realm_id, client_id, session_type, bucket, slot, n) \
         SELECT realm_id, client_id, session_type, bucket, slot, n FROM session_counts; \
         DROP TABLE session_counts; \
         ALTER TABLE session_counts_rebuilt RENAME TO session_counts; \
         RELEASE rebuild_session_counts;",
        table("session_counts_rebuilt", options)
    );
    db.execute_unprepared(&script).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(m, " WITHOUT ROWID").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(m, "").await
    }
}
