//! A search or a user's list reads only the sessions it matches that are still live.
//!
//! - `ix_user_sessions_user_live` `(user_id, state, expires_at)` takes the place of
//!   `ix_user_sessions_user_activity`: a user's live sessions are one range (`state = 'ACTIVE'
//!   AND expires_at > now`), whatever the reaper has not ended yet; the prefix still serves
//!   ending all of a user's sessions and removing a user's rows.
//! - `ix_user_sessions_realm_activity` and `_realm_type_activity` go: since migration 10 the
//!   lists read `ix_user_sessions_live` and searches the ranges above, so nothing reads them and
//!   every session written or used paid for two index entries no one needed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for index in [
            "ix_user_sessions_user_activity",
            "ix_user_sessions_realm_activity",
            "ix_user_sessions_realm_type_activity",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}")).await?;
        }
        db.execute_unprepared("CREATE INDEX ix_user_sessions_user_live ON user_sessions (user_id, state, expires_at)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_user_sessions_user_live").await?;
        db.execute_unprepared("CREATE INDEX ix_user_sessions_user_activity ON user_sessions (user_id, last_access)")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_user_sessions_realm_activity ON user_sessions (realm_id, last_access, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_user_sessions_realm_type_activity ON user_sessions (realm_id, session_type, last_access, id)",
        )
        .await?;
        Ok(())
    }
}
