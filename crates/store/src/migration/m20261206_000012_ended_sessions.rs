//! Ended sessions are found without reading the live ones.
//!
//! - `ix_user_sessions_ended` `(ended_at) WHERE state = 'ENDED'`: the reaper removes ended rows
//!   once their minute has passed, oldest first. Without it each pass read the whole table to
//!   find them (a full scan every ten seconds: at a million sessions on SQLite a few hundred
//!   milliseconds, at ten million on PostgreSQL gigabytes), however few there were. Partial,
//!   so it holds only the rows waiting for removal: appended to as sessions end, emptied as
//!   they go.
//! - `ix_auth_codes_session` `(user_session_id)`: removing a session removes its codes (the
//!   foreign key cascades), found by this index rather than by reading every code.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("CREATE INDEX ix_user_sessions_ended ON user_sessions (ended_at) WHERE state = 'ENDED'")
            .await?;
        db.execute_unprepared("CREATE INDEX ix_auth_codes_session ON auth_codes (user_session_id)").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_auth_codes_session").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_user_sessions_ended").await?;
        Ok(())
    }
}
