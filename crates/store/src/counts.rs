//! Maintained session counts: how many sessions a realm has, and how many hold a client session
//! of each client, by type — read from a handful of rows instead of counting an index range.
//!
//! At a million sessions, counting one client's 900,000 entries of
//! `ix_client_sessions_client_type_activity` took ~460 ms per request (`session-count`, the
//! total of a client's list) and `client-session-stats` ~600 ms (`docs/benchmarks.md`). Here
//! every write that makes a session or client session start or stop counting adjusts
//! `session_counts` in the same transaction, by one `INSERT … SELECT … GROUP BY … ON CONFLICT
//! DO UPDATE` statement, so a read is a `SUM` over at most [`SLOTS`] rows per (client, type).
//!
//! What is counted: a session is counted while it is `ACTIVE`, started after the realm's
//! session cut-off and at or after the realm's not-before ([`counted`]). The same rule is used
//! when a row is added, when it is removed and by [`recount`], so the sums stay exact whatever
//! order writes come in. Moving the realm's cut-off or not-before (logout-all, a new
//! not-before) recounts the realm in that transaction. Time alone never changes a row, so a
//! session past its idle timeout or max lifespan is still counted until the reaper ends it (at
//! most one reaper interval, 10 s by default); lists never show it, as they judge liveness in SQL.
//!
//! Rows of one (realm, client, type) are spread over [`SLOTS`] slots picked at random, so
//! concurrent sign-ins to one application do not all wait on one row lock (PostgreSQL).

use latchkey_domain::{ClientId, RealmId, SessionType};
use sea_orm::sea_query::{
    Alias, Cond, Expr, Func, InsertStatement, OnConflict, PostgresQueryBuilder, Query, QueryStatementWriter,
    SelectStatement, SimpleExpr, SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DeriveIden, FromQueryResult, Statement};
use uuid::Uuid;

use crate::entity::{client, client_session, realm, user_session};
use crate::StoreError;

/// Slots per (realm, client, type).
pub const SLOTS: u8 = 8;

/// The client id under which a realm's own totals (all its sessions) are kept.
const WHOLE_REALM: Uuid = Uuid::nil();

#[derive(DeriveIden, Clone, Copy)]
enum SessionCounts {
    Table,
    RealmId,
    ClientId,
    SessionType,
    Slot,
    N,
}

fn us(col: user_session::Column) -> Expr {
    Expr::col((user_session::Entity, col))
}

/// The counted rule, over `user_sessions` joined with its realm.
fn counted() -> Cond {
    Cond::all()
        .add(us(user_session::Column::State).eq("ACTIVE"))
        .add(us(user_session::Column::StartedAt).gt(Expr::col((realm::Entity, realm::Column::SessionCutoff))))
        .add(us(user_session::Column::StartedAt).gte(Expr::col((realm::Entity, realm::Column::NotBefore)).mul(1000)))
}

fn join_realm(q: &mut SelectStatement) {
    q.inner_join(
        realm::Entity,
        Expr::col((realm::Entity, realm::Column::Id)).equals((user_session::Entity, user_session::Column::RealmId)),
    );
}

/// Counted user sessions matching `only`, grouped as rows of `session_counts` with `sign`.
fn realm_groups(only: Cond, sign: i64, slot: i16) -> SelectStatement {
    let mut q = Query::select();
    q.from(user_session::Entity);
    join_realm(&mut q);
    q.expr(us(user_session::Column::RealmId))
        .expr(Expr::val(WHOLE_REALM))
        .expr(us(user_session::Column::SessionType))
        .expr(Expr::val(slot))
        .expr(Expr::col((user_session::Entity, user_session::Column::Id)).count().mul(sign))
        .cond_where(counted())
        .cond_where(only)
        .group_by_col((user_session::Entity, user_session::Column::RealmId))
        .group_by_col((user_session::Entity, user_session::Column::SessionType));
    q
}

/// Client sessions of counted user sessions matching `only`, grouped by client and type.
fn client_groups(only: Cond, sign: i64, slot: i16) -> SelectStatement {
    let mut q = Query::select();
    q.from(client_session::Entity).inner_join(
        user_session::Entity,
        us(user_session::Column::Id).equals((client_session::Entity, client_session::Column::UserSessionId)),
    );
    join_realm(&mut q);
    q.expr(us(user_session::Column::RealmId))
        .expr(Expr::col((client_session::Entity, client_session::Column::ClientId)))
        .expr(us(user_session::Column::SessionType))
        .expr(Expr::val(slot))
        .expr(Expr::col((client_session::Entity, client_session::Column::ClientId)).count().mul(sign))
        .cond_where(counted())
        .cond_where(only)
        .group_by_col((user_session::Entity, user_session::Column::RealmId))
        .group_by_col((client_session::Entity, client_session::Column::ClientId))
        .group_by_col((user_session::Entity, user_session::Column::SessionType));
    q
}

fn add_groups(groups: SelectStatement) -> Result<InsertStatement, StoreError> {
    use SessionCounts as T;
    let mut insert = Query::insert();
    insert
        .into_table(T::Table)
        .columns([T::RealmId, T::ClientId, T::SessionType, T::Slot, T::N])
        .select_from(groups)
        .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::columns([T::RealmId, T::ClientId, T::SessionType, T::Slot])
                .value(T::N, Expr::col((T::Table, T::N)).add(Expr::col((Alias::new("excluded"), T::N))))
                .to_owned(),
        );
    Ok(insert)
}

fn statement(backend: DatabaseBackend, q: &impl QueryStatementWriter) -> Statement {
    let (sql, values) = match backend {
        DatabaseBackend::Postgres => q.build(PostgresQueryBuilder),
        _ => q.build(SqliteQueryBuilder),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn random_slot() -> i16 {
    i16::from(Uuid::new_v4().as_bytes()[0] % SLOTS)
}

async fn apply(db: &impl ConnectionTrait, groups: SelectStatement) -> Result<(), StoreError> {
    db.execute(statement(db.get_database_backend(), &add_groups(groups)?)).await?;
    Ok(())
}

/// Adds (`sign` 1) or removes (`sign` -1) these user sessions, as far as they are counted.
/// Removal must run before the sessions stop being `ACTIVE`.
pub(crate) async fn sessions(db: &impl ConnectionTrait, ids: &[Uuid], sign: i64) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let only = Cond::all().add(us(user_session::Column::Id).is_in(ids.iter().copied()));
    apply(db, realm_groups(only, sign, random_slot())).await
}

/// Adds or removes the client sessions matching `only` (a condition on `client_sessions`), as
/// far as their user sessions are counted. Removal must run before the rows are deleted.
pub(crate) async fn client_sessions(db: &impl ConnectionTrait, only: Cond, sign: i64) -> Result<(), StoreError> {
    apply(db, client_groups(only, sign, random_slot())).await
}

/// Forgets the counts of a deleted client.
pub(crate) async fn forget_client(db: &impl ConnectionTrait, client_id: ClientId) -> Result<(), StoreError> {
    let q = Query::delete()
        .from_table(SessionCounts::Table)
        .and_where(Expr::col(SessionCounts::ClientId).eq(client_id.as_uuid()))
        .to_owned();
    db.execute(statement(db.get_database_backend(), &q)).await?;
    Ok(())
}

/// Counts a realm again from its sessions: after its cut-off or not-before moved, and when the
/// table is first created. Reads the realm's sessions started after both (an index range of
/// `ix_user_sessions_realm_started`; empty right after a logout-all).
pub async fn recount(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<(), StoreError> {
    let clear = Query::delete()
        .from_table(SessionCounts::Table)
        .and_where(Expr::col(SessionCounts::RealmId).eq(realm_id.as_uuid()))
        .to_owned();
    db.execute(statement(db.get_database_backend(), &clear)).await?;
    let only = || Cond::all().add(us(user_session::Column::RealmId).eq(realm_id.as_uuid()));
    apply(db, realm_groups(only(), 1, 0)).await?;
    apply(db, client_groups(only(), 1, 0)).await
}

fn sum_n() -> SimpleExpr {
    Func::cast_as(Func::sum(Expr::col((SessionCounts::Table, SessionCounts::N))), Alias::new("BIGINT")).into()
}

/// Every realm's counted sessions by type: (realm id, type, count), from the maintained counts
/// (a few rows per realm).
pub async fn by_realm(db: &impl ConnectionTrait) -> Result<Vec<(RealmId, SessionType, u64)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Group {
        realm_id: Uuid,
        session_type: String,
        n: Option<i64>,
    }
    let q = Query::select()
        .column(SessionCounts::RealmId)
        .column(SessionCounts::SessionType)
        .expr_as(sum_n(), Alias::new("n"))
        .from(SessionCounts::Table)
        .and_where(Expr::col(SessionCounts::ClientId).eq(WHOLE_REALM))
        .group_by_col(SessionCounts::RealmId)
        .group_by_col(SessionCounts::SessionType)
        .to_owned();
    Group::find_by_statement(statement(db.get_database_backend(), &q))
        .all(db)
        .await?
        .into_iter()
        .map(|g| Ok((g.realm_id.into(), g.session_type.parse()?, g.n.unwrap_or(0).max(0) as u64)))
        .collect()
}

/// How many counted sessions the realm has — holding a client session of `client`, if given —
/// of one type or both.
pub async fn count(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    client: Option<ClientId>,
    session_type: Option<SessionType>,
) -> Result<u64, StoreError> {
    #[derive(FromQueryResult)]
    struct Sum {
        n: Option<i64>,
    }
    let mut q = Query::select();
    q.expr_as(sum_n(), Alias::new("n"))
        .from(SessionCounts::Table)
        .and_where(Expr::col(SessionCounts::RealmId).eq(realm_id.as_uuid()))
        .and_where(Expr::col(SessionCounts::ClientId).eq(client.map_or(WHOLE_REALM, |c| c.as_uuid())));
    if let Some(t) = session_type {
        q.and_where(Expr::col(SessionCounts::SessionType).eq(t.as_str()));
    }
    let row = Sum::find_by_statement(statement(db.get_database_backend(), &q)).one(db).await?;
    Ok(row.and_then(|r| r.n).unwrap_or(0).max(0) as u64)
}

/// Per client of the realm with at least one counted session: (client id, clientId, regular,
/// offline), by clientId.
pub async fn by_client(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<Vec<ClientStat>, StoreError> {
    #[derive(FromQueryResult)]
    struct Group {
        client_id: Uuid,
        client_name: String,
        session_type: String,
        n: Option<i64>,
    }
    let q = Query::select()
        .expr_as(Expr::col((client::Entity, client::Column::Id)), Alias::new("client_id"))
        .expr_as(Expr::col((client::Entity, client::Column::ClientId)), Alias::new("client_name"))
        .expr_as(Expr::col((SessionCounts::Table, SessionCounts::SessionType)), Alias::new("session_type"))
        .expr_as(sum_n(), Alias::new("n"))
        .from(SessionCounts::Table)
        .inner_join(
            client::Entity,
            Expr::col((client::Entity, client::Column::Id)).equals((SessionCounts::Table, SessionCounts::ClientId)),
        )
        .and_where(Expr::col((SessionCounts::Table, SessionCounts::RealmId)).eq(realm_id.as_uuid()))
        .group_by_col((client::Entity, client::Column::Id))
        .group_by_col((client::Entity, client::Column::ClientId))
        .group_by_col((SessionCounts::Table, SessionCounts::SessionType))
        .order_by((client::Entity, client::Column::ClientId), sea_orm::Order::Asc)
        .to_owned();
    let groups = Group::find_by_statement(statement(db.get_database_backend(), &q)).all(db).await?;
    let mut stats: Vec<ClientStat> = Vec::new();
    for g in groups {
        let n = g.n.unwrap_or(0).max(0) as u64;
        if n == 0 {
            continue;
        }
        add_stat(&mut stats, g.client_id.into(), g.client_name, &g.session_type, n);
    }
    Ok(stats)
}

/// One client's count of one session type, rows sorted by client: (client id, clientId,
/// regular, offline).
pub type ClientStat = (ClientId, String, u64, u64);

/// Adds `n` sessions of the stored type `kind` to the last row if it is `id`'s, else a new row.
pub(crate) fn add_stat(stats: &mut Vec<ClientStat>, id: ClientId, name: String, kind: &str, n: u64) {
    let (regular, offline) = if kind == "OFFLINE" { (0, n) } else { (n, 0) };
    match stats.last_mut() {
        Some(last) if last.0 == id => {
            last.2 += regular;
            last.3 += offline;
        }
        _ => stats.push((id, name, regular, offline)),
    }
}
