//! When each session times out, kept on its row, so that nothing a list or a count reads is
//! proportional to the sessions that are dead but not yet ended (`docs/schema.md`).
//!
//! - `user_sessions.expires_at` (ms): the earlier of last access + idle timeout and start + max
//!   lifespan, for the session's kind under its realm's limits — the liveness rule of
//!   `latchkey_domain::session` as one number. Triggers keep it: on every insert, on every
//!   change of a session's times or kind, and (until migration 13 made it a job) for every
//!   active session of a realm whose limits change. So it is exact whichever path writes (the
//!   server, `latchkey seed`, an import).
//! - `ix_user_sessions_live`: the active sessions of a realm by kind and last access (a partial
//!   index: ended rows waiting for removal are not in it). A list reads each kind's range of
//!   sessions used within its idle timeout and since the realm's cut-off — sessions that timed
//!   out or were cut off are outside every range read.
//! - `ix_user_sessions_expiry`: the active sessions of a realm by `expires_at`: the reaper's walk
//!   over what timed out, and the counts' correction for the current minute.
//! - `session_counts` gains `bucket`: rows with bucket `-1` hold the totals, the others the
//!   counted sessions by the minute (`≥ 0`) and by the hour (`≤ -2`) they time out. Alive =
//!   total − the hours already past − this hour's minutes already past − the part of this
//!   minute already past; what is read grows with the hours the reaper is behind, not with the
//!   sessions. The table is derived: it is made again and
//!   counted from the sessions.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns a realm's limits live in; a change to any moves its sessions' `expires_at`.
const LIMITS: [&str; 7] = [
    "sso_idle",
    "sso_max",
    "sso_idle_remember_me",
    "sso_max_remember_me",
    "offline_idle",
    "offline_max",
    "offline_max_enabled",
];

/// `expires_at` of the session whose columns are `s.<col>` under the realm `r`, in SQL.
pub(crate) fn expiry_sql(backend: DbBackend, s: &str, r: &str) -> String {
    let least = if backend == DbBackend::Postgres { "LEAST" } else { "MIN" };
    let pick = |remember: &str, regular: &str| {
        format!("CASE WHEN {s}.remember_me AND {r}.{remember} > 0 THEN {r}.{remember} ELSE {r}.{regular} END")
    };
    format!(
        "CASE WHEN {s}.session_type = 'OFFLINE' THEN \
           CASE WHEN {r}.offline_max_enabled \
             THEN {least}({s}.last_access + 1000 * {r}.offline_idle, {s}.started_at + 1000 * {r}.offline_max) \
             ELSE {s}.last_access + 1000 * {r}.offline_idle END \
         ELSE {least}({s}.last_access + 1000 * ({idle}), {s}.started_at + 1000 * ({max})) END",
        idle = pick("sso_idle_remember_me", "sso_idle"),
        max = pick("sso_max_remember_me", "sso_max"),
    )
}

/// The trigger this migration made and migration 13 took away: new limits of a realm moved
/// every active session's `expires_at` in the statement that changed them (now a job's work).
pub(crate) async fn realm_trigger(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let all = expiry_sql(backend, "user_sessions", "NEW");
    if backend == DbBackend::Postgres {
        let moved: Vec<String> = LIMITS.iter().map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}")).collect();
        run(
            db,
            format!(
                "CREATE FUNCTION latchkey_realm_expiry() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN UPDATE user_sessions SET expires_at = {all} \
                 WHERE user_sessions.realm_id = NEW.id AND user_sessions.state = 'ACTIVE'; \
                 RETURN NULL; END $$"
            ),
        )
        .await?;
        run(
            db,
            format!(
                "CREATE TRIGGER tr_realms_expiry AFTER UPDATE ON realms FOR EACH ROW \
                 WHEN ({}) EXECUTE FUNCTION latchkey_realm_expiry()",
                moved.join(" OR ")
            ),
        )
        .await
    } else {
        run(
            db,
            format!(
                "CREATE TRIGGER tr_realms_expiry AFTER UPDATE OF {} ON realms FOR EACH ROW \
                 BEGIN UPDATE user_sessions SET expires_at = {all} \
                 WHERE user_sessions.realm_id = NEW.id AND user_sessions.state = 'ACTIVE'; END",
                LIMITS.join(", ")
            ),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SessionCounts {
    Table,
    RealmId,
    ClientId,
    SessionType,
    Bucket,
    Slot,
    N,
}

#[derive(DeriveIden, Clone, Copy)]
enum Realms {
    Table,
    Id,
}

/// `session_counts`, with its `bucket` (this migration) or without (before it).
fn counts_table(buckets: bool) -> TableCreateStatement {
    use SessionCounts as C;
    let mut key = Index::create();
    key.col(C::RealmId).col(C::ClientId).col(C::SessionType);
    if buckets {
        key.col(C::Bucket);
    }
    key.col(C::Slot);
    let mut table = Table::create();
    table
        .table(C::Table)
        .col(ColumnDef::new(C::RealmId).uuid().not_null())
        .col(ColumnDef::new(C::ClientId).uuid().not_null())
        .col(ColumnDef::new(C::SessionType).string_len(16).not_null());
    if buckets {
        table.col(ColumnDef::new(C::Bucket).big_integer().not_null());
    }
    table
        .col(ColumnDef::new(C::Slot).small_integer().not_null())
        .col(ColumnDef::new(C::N).big_integer().not_null())
        .primary_key(&mut key)
        .foreign_key(
            ForeignKey::create()
                .from(C::Table, C::RealmId)
                .to(Realms::Table, Realms::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    table.to_owned()
}

pub(crate) async fn run(db: &SchemaManagerConnection<'_>, sql: impl Into<String>) -> Result<(), DbErr> {
    db.execute(Statement::from_string(db.get_database_backend(), sql.into())).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        run(db, "ALTER TABLE user_sessions ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0").await?;
        let whole = expiry_sql(backend, "user_sessions", "realms");
        run(db, format!("UPDATE user_sessions SET expires_at = (SELECT {whole} FROM realms WHERE realms.id = user_sessions.realm_id)")).await?;
        match backend {
            DbBackend::Postgres => {
                let own = expiry_sql(backend, "NEW", "r");
                run(
                    db,
                    format!(
                        "CREATE FUNCTION latchkey_session_expiry() RETURNS trigger LANGUAGE plpgsql AS $$ \
                         BEGIN SELECT {own} INTO NEW.expires_at FROM realms r WHERE r.id = NEW.realm_id; \
                         RETURN NEW; END $$"
                    ),
                )
                .await?;
                run(
                    db,
                    "CREATE TRIGGER tr_user_sessions_expiry BEFORE INSERT OR UPDATE OF last_access, started_at, \
                     remember_me, session_type, realm_id ON user_sessions \
                     FOR EACH ROW EXECUTE FUNCTION latchkey_session_expiry()",
                )
                .await?;
            }
            _ => {
                let own = expiry_sql(backend, "NEW", "r");
                for (name, event) in [
                    ("insert", "INSERT".to_owned()),
                    ("update", "UPDATE OF last_access, started_at, remember_me, session_type, realm_id".to_owned()),
                ] {
                    run(
                        db,
                        format!(
                            "CREATE TRIGGER tr_user_sessions_expiry_{name} AFTER {event} ON user_sessions \
                             FOR EACH ROW BEGIN UPDATE user_sessions SET expires_at = \
                             (SELECT {own} FROM realms r WHERE r.id = NEW.realm_id) WHERE id = NEW.id; END"
                        ),
                    )
                    .await?;
                }
            }
        }
        realm_trigger(db).await?;
        run(
            db,
            "CREATE INDEX ix_user_sessions_live ON user_sessions \
             (realm_id, session_type, remember_me, last_access, id, started_at, user_id) WHERE state = 'ACTIVE'",
        )
        .await?;
        run(db, "CREATE INDEX ix_user_sessions_expiry ON user_sessions (realm_id, expires_at) WHERE state = 'ACTIVE'")
            .await?;

        // The counts, by the minute each session times out (and totals under bucket -1).
        m.drop_table(Table::drop().table(SessionCounts::Table).to_owned()).await?;
        m.create_table(counts_table(true)).await?;
        let realms: Vec<uuid::Uuid> = {
            let rows = db.query_all(Statement::from_string(backend, "SELECT id FROM realms")).await?;
            rows.iter().map(|r| r.try_get::<uuid::Uuid>("", "id")).collect::<Result<_, _>>()?
        };
        for realm in realms {
            crate::counts::recount(db, realm.into()).await.map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        match backend {
            DbBackend::Postgres => {
                run(db, "DROP TRIGGER IF EXISTS tr_realms_expiry ON realms").await?;
                run(db, "DROP TRIGGER IF EXISTS tr_user_sessions_expiry ON user_sessions").await?;
                run(db, "DROP FUNCTION IF EXISTS latchkey_realm_expiry()").await?;
                run(db, "DROP FUNCTION IF EXISTS latchkey_session_expiry()").await?;
            }
            _ => {
                run(db, "DROP TRIGGER IF EXISTS tr_realms_expiry").await?;
                run(db, "DROP TRIGGER IF EXISTS tr_user_sessions_expiry_insert").await?;
                run(db, "DROP TRIGGER IF EXISTS tr_user_sessions_expiry_update").await?;
            }
        }
        run(db, "DROP INDEX IF EXISTS ix_user_sessions_expiry").await?;
        run(db, "DROP INDEX IF EXISTS ix_user_sessions_live").await?;
        run(db, "ALTER TABLE user_sessions DROP COLUMN expires_at").await?;
        // The counts go back to their earlier shape, counted again.
        m.drop_table(Table::drop().table(SessionCounts::Table).to_owned()).await?;
        m.create_table(counts_table(false)).await
    }
}
