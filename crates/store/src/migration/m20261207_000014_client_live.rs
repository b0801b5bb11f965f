//! A client's sessions are one range per kind of session, as the realm's are.
//!
//! Since migration 10 a client's list walked the realm's live range (`ix_user_sessions_live`)
//! and probed `client_sessions` for each entry: a page deep in the list, or a client that few of
//! the realm's sessions hold, read the realm's sessions in proportion (1M sessions spread over
//! 30 days: 153 / 210 ms for a client's page at `first=10000`). Here each client session carries
//! what the list's rule reads of its session — its kind (the type it already had, remember-me),
//! last access and start — and `ix_client_sessions_live` orders a client's sessions as
//! `ix_user_sessions_live` orders a realm's: a client's list reads its own ranges, covering,
//! never another client's sessions nor the dead ones.
//!
//! - Triggers keep the copies exact on every path that writes (the server, `latchkey seed`, an
//!   import): a client session takes them from its session when inserted, and a session's use
//!   (`last_access`) moves them. A client session inserted into a session that is not active
//!   gets last access 0, outside every range. Ended sessions lose their client sessions in the
//!   statement that ends them (`sessions::end_sessions`).
//! - `ix_client_sessions_client_activity` and `_client_type_activity` go: the new index's prefix
//!   (client, type) serves what they served (a clientId search's sessions, a disabled client's
//!   ending), and every client session written paid for both.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::m20261206_000010_expiry::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The copies a client session keeps of its session, as (column, type, the session's column).
const COPIES: [(&str, &str, &str); 3] = [
    ("remember_me", "BOOLEAN NOT NULL DEFAULT FALSE", "remember_me"),
    ("session_last_access", "BIGINT NOT NULL DEFAULT 0", "last_access"),
    ("session_started_at", "BIGINT NOT NULL DEFAULT 0", "started_at"),
];

/// The copy of `col` from the session `s`: last access only while the session is active.
fn copied(s: &str, col: &str) -> String {
    if col == "last_access" {
        format!("CASE WHEN {s}.state = 'ACTIVE' THEN {s}.last_access ELSE 0 END")
    } else {
        format!("{s}.{col}")
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        for (col, ty, _) in COPIES {
            run(db, format!("ALTER TABLE client_sessions ADD COLUMN {col} {ty}")).await?;
        }
        let sets: Vec<String> = COPIES.iter().map(|(col, _, from)| format!("{col} = {}", copied("us", from))).collect();
        match backend {
            DbBackend::Postgres => {
                run(
                    db,
                    format!(
                        "UPDATE client_sessions SET {} FROM user_sessions us WHERE us.id = client_sessions.user_session_id",
                        sets.join(", ")
                    ),
                )
                .await?;
                let into: Vec<String> = COPIES.iter().map(|(col, _, _)| format!("NEW.{col}")).collect();
                let from: Vec<String> = COPIES.iter().map(|(_, _, from)| copied("us", from)).collect();
                run(
                    db,
                    format!(
                        "CREATE FUNCTION latchkey_client_session_copies() RETURNS trigger LANGUAGE plpgsql AS $$ \
                         BEGIN SELECT {} INTO {} FROM user_sessions us WHERE us.id = NEW.user_session_id; \
                         RETURN NEW; END $$",
                        from.join(", "),
                        into.join(", ")
                    ),
                )
                .await?;
                run(
                    db,
                    "CREATE TRIGGER tr_client_sessions_copies BEFORE INSERT ON client_sessions \
                     FOR EACH ROW EXECUTE FUNCTION latchkey_client_session_copies()",
                )
                .await?;
                run(
                    db,
                    "CREATE FUNCTION latchkey_session_used() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE client_sessions SET session_last_access = NEW.last_access, \
                     session_started_at = NEW.started_at WHERE user_session_id = NEW.id; RETURN NULL; END $$",
                )
                .await?;
                run(
                    db,
                    "CREATE TRIGGER tr_user_sessions_used AFTER UPDATE OF last_access, started_at ON user_sessions \
                     FOR EACH ROW WHEN (OLD.last_access IS DISTINCT FROM NEW.last_access \
                     OR OLD.started_at IS DISTINCT FROM NEW.started_at) EXECUTE FUNCTION latchkey_session_used()",
                )
                .await?;
            }
            _ => {
                let subquery = |from: &str| {
                    format!(
                        "(SELECT {} FROM user_sessions us WHERE us.id = client_sessions.user_session_id)",
                        copied("us", from)
                    )
                };
                let sets: Vec<String> =
                    COPIES.iter().map(|(col, _, from)| format!("{col} = {}", subquery(from))).collect();
                run(db, format!("UPDATE client_sessions SET {}", sets.join(", "))).await?;
                run(
                    db,
                    format!(
                        "CREATE TRIGGER tr_client_sessions_copies AFTER INSERT ON client_sessions FOR EACH ROW \
                         BEGIN UPDATE client_sessions SET {} \
                         WHERE user_session_id = NEW.user_session_id AND client_id = NEW.client_id; END",
                        sets.join(", ")
                    ),
                )
                .await?;
                run(
                    db,
                    "CREATE TRIGGER tr_user_sessions_used AFTER UPDATE OF last_access, started_at ON user_sessions \
                     FOR EACH ROW WHEN OLD.last_access IS NOT NEW.last_access OR OLD.started_at IS NOT NEW.started_at \
                     BEGIN UPDATE client_sessions SET session_last_access = NEW.last_access, \
                     session_started_at = NEW.started_at WHERE user_session_id = NEW.id; END",
                )
                .await?;
            }
        }
        run(
            db,
            "CREATE INDEX ix_client_sessions_live ON client_sessions \
             (client_id, session_type, remember_me, session_last_access, user_session_id, session_started_at)",
        )
        .await?;
        run(db, "DROP INDEX IF EXISTS ix_client_sessions_client_activity").await?;
        run(db, "DROP INDEX IF EXISTS ix_client_sessions_client_type_activity").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        run(db, "DROP INDEX IF EXISTS ix_client_sessions_live").await?;
        if backend == DbBackend::Postgres {
            run(db, "DROP TRIGGER IF EXISTS tr_user_sessions_used ON user_sessions").await?;
            run(db, "DROP TRIGGER IF EXISTS tr_client_sessions_copies ON client_sessions").await?;
            run(db, "DROP FUNCTION IF EXISTS latchkey_session_used()").await?;
            run(db, "DROP FUNCTION IF EXISTS latchkey_client_session_copies()").await?;
        } else {
            run(db, "DROP TRIGGER IF EXISTS tr_user_sessions_used").await?;
            run(db, "DROP TRIGGER IF EXISTS tr_client_sessions_copies").await?;
        }
        for (col, _, _) in COPIES {
            run(db, format!("ALTER TABLE client_sessions DROP COLUMN {col}")).await?;
        }
        run(
            db,
            "CREATE INDEX ix_client_sessions_client_activity ON client_sessions (client_id, last_refresh, user_session_id)",
        )
        .await?;
        run(
            db,
            "CREATE INDEX ix_client_sessions_client_type_activity ON client_sessions (client_id, session_type, last_refresh)",
        )
        .await
    }
}
