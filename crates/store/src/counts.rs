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

use latchkey_domain::{ClientId, RealmId, SessionType, Timestamp};
use sea_orm::sea_query::{
    Alias, Cond, Expr, Func, InsertStatement, OnConflict, PostgresQueryBuilder, Query, QueryStatementWriter,
    SelectStatement, SimpleExpr, SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DeriveIden, FromQueryResult, Statement};
use uuid::Uuid;

use crate::entity::{client_session, realm, user_session};
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
    Bucket,
    Slot,
    N,
}

/// The bucket of the totals; every other bucket is a minute (epoch ms / 60,000).
const TOTAL: i64 = -1;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// The bucket of the hour `hour` (epoch ms / 3,600,000): below the totals' `-1`, decreasing as
/// hours go on, so the hours before one are the range `(hour_bucket(h), -1)`.
fn hour_bucket(hour: i64) -> i64 {
    -2 - hour
}

/// Which rows a change writes: the totals and the buckets (a session starting or ending), or
/// the buckets alone (a session whose `expires_at` moved).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Buckets,
}

/// The buckets of a row of `user_sessions`: the minute and the hour its `expires_at` falls in.
/// (Written out: PostgreSQL groups by the expression only when select and group by read the
/// same text, which two bound values are not.)
fn expiry_buckets() -> [SimpleExpr; 2] {
    [
        Expr::cust(format!("\"user_sessions\".\"expires_at\" / {MINUTE_MS}")),
        Expr::cust(format!("-2 - \"user_sessions\".\"expires_at\" / {HOUR_MS}")),
    ]
}

/// `groups(bucket)` for each bucket (minute and hour) and, for [`Part::Both`], the totals, as
/// one statement.
fn both(part: Part, groups: impl Fn(Option<SimpleExpr>) -> SelectStatement) -> SelectStatement {
    let [minute, hour] = expiry_buckets();
    let mut q = groups(Some(minute));
    q.union(sea_orm::sea_query::UnionType::All, groups(Some(hour)));
    if part == Part::Both {
        q.union(sea_orm::sea_query::UnionType::All, groups(None));
    }
    q
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

/// Counted user sessions matching `only`, grouped as rows of `session_counts` with `sign`:
/// under `bucket` (their expiry minute), or as totals.
fn realm_groups(only: &Cond, sign: i64, slot: i16, bucket: Option<SimpleExpr>) -> SelectStatement {
    let mut q = Query::select();
    q.from(user_session::Entity);
    join_realm(&mut q);
    q.expr(us(user_session::Column::RealmId))
        .expr(Expr::val(WHOLE_REALM))
        .expr(us(user_session::Column::SessionType))
        .expr(bucket.clone().unwrap_or_else(|| Expr::val(TOTAL).into()))
        .expr(Expr::val(slot))
        .expr(Expr::col((user_session::Entity, user_session::Column::Id)).count().mul(sign))
        .cond_where(counted())
        .cond_where(only.clone())
        .group_by_col((user_session::Entity, user_session::Column::RealmId))
        .group_by_col((user_session::Entity, user_session::Column::SessionType));
    if let Some(bucket) = bucket {
        q.add_group_by([bucket]);
    }
    q
}

/// Client sessions of counted user sessions matching `only`, grouped by client, type and
/// `bucket` (or as totals).
fn client_groups(only: &Cond, sign: i64, slot: i16, bucket: Option<SimpleExpr>) -> SelectStatement {
    let mut q = Query::select();
    q.from(client_session::Entity).inner_join(
        user_session::Entity,
        us(user_session::Column::Id).equals((client_session::Entity, client_session::Column::UserSessionId)),
    );
    join_realm(&mut q);
    q.expr(us(user_session::Column::RealmId))
        .expr(Expr::col((client_session::Entity, client_session::Column::ClientId)))
        .expr(us(user_session::Column::SessionType))
        .expr(bucket.clone().unwrap_or_else(|| Expr::val(TOTAL).into()))
        .expr(Expr::val(slot))
        .expr(Expr::col((client_session::Entity, client_session::Column::ClientId)).count().mul(sign))
        .cond_where(counted())
        .cond_where(only.clone())
        .group_by_col((user_session::Entity, user_session::Column::RealmId))
        .group_by_col((client_session::Entity, client_session::Column::ClientId))
        .group_by_col((user_session::Entity, user_session::Column::SessionType));
    if let Some(bucket) = bucket {
        q.add_group_by([bucket]);
    }
    q
}

fn add_groups(groups: SelectStatement) -> Result<InsertStatement, StoreError> {
    use SessionCounts as T;
    let mut insert = Query::insert();
    insert
        .into_table(T::Table)
        .columns([T::RealmId, T::ClientId, T::SessionType, T::Bucket, T::Slot, T::N])
        .select_from(groups)
        .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::columns([T::RealmId, T::ClientId, T::SessionType, T::Bucket, T::Slot])
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
    let slot = random_slot();
    apply(db, both(Part::Both, |bucket| realm_groups(&only, sign, slot, bucket))).await
}

/// Adds or removes the client sessions matching `only` (a condition on `client_sessions`), as
/// far as their user sessions are counted. Removal must run before the rows are deleted.
pub(crate) async fn client_sessions(db: &impl ConnectionTrait, only: Cond, sign: i64) -> Result<(), StoreError> {
    let slot = random_slot();
    apply(db, both(Part::Both, |bucket| client_groups(&only, sign, slot, bucket))).await
}

/// A session as it stops counting, as the statement that ended it returned it: its realm, type,
/// start and expiry, and the clients it held client sessions of.
pub(crate) struct Leaving {
    pub(crate) realm_id: Uuid,
    pub(crate) session_type: String,
    pub(crate) started_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) clients: Vec<Uuid>,
}

/// Removes these sessions and their client sessions from the counts, as far as they were
/// counted: the groups are summed here, from what the ending statements returned, and written
/// as one upsert of a few rows — not counted again by reading the ended rows back (a reaper
/// batch of 500 spent a tenth of its time doing that). The realms' cut-off and not-before are
/// read locked (`FOR SHARE` on PostgreSQL): a logout-all moving them waits for this
/// transaction, or this one for it, so the rule applied is the one its recount sees.
pub(crate) async fn remove(db: &impl ConnectionTrait, leaving: &[Leaving]) -> Result<(), StoreError> {
    adjust(db, leaving, &[]).await
}

/// A session whose `expires_at` moved (its realm's limits changed), as the statement that moved
/// it returned it: its realm, type and start, its expiry before and after, and its clients.
pub(crate) struct Moving {
    pub(crate) realm_id: Uuid,
    pub(crate) session_type: String,
    pub(crate) started_at: i64,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) clients: Vec<Uuid>,
}

/// Moves these sessions and their client sessions from the minute and hour they timed out in to
/// the ones they time out in now, as far as they are counted; totals are unchanged. Summed
/// here and written as one upsert, as [`remove`] does.
pub(crate) async fn shift(db: &impl ConnectionTrait, moving: &[Moving]) -> Result<(), StoreError> {
    adjust(db, &[], moving).await
}

/// What [`remove`] and [`shift`] write: the groups of `session_counts` they change, summed.
/// The counted rule of these realms, by realm: (session cut-off, not-before in ms) — a session
/// counts when it started after the first and at or after the second. Read locked shared on
/// PostgreSQL when `shared`.
async fn rules(
    db: &impl ConnectionTrait,
    realms: &std::collections::BTreeSet<Uuid>,
    shared: bool,
) -> Result<std::collections::BTreeMap<Uuid, (i64, i64)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Rule {
        id: Uuid,
        session_cutoff: i64,
        not_before: i64,
    }
    let backend = db.get_database_backend();
    let lock = if shared && backend == DatabaseBackend::Postgres { " FOR SHARE" } else { "" };
    let sql = format!(
        "SELECT id, session_cutoff, not_before FROM realms WHERE id IN ({}){lock}",
        vec!["?"; realms.len()].join(", ")
    );
    Ok(Rule::find_by_statement(raw(backend, &sql, realms.iter().map(|r| (*r).into()).collect()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, (r.session_cutoff, r.not_before.saturating_mul(1000))))
        .collect())
}

async fn adjust(db: &impl ConnectionTrait, leaving: &[Leaving], moving: &[Moving]) -> Result<(), StoreError> {
    use std::collections::{BTreeMap, BTreeSet};
    if leaving.is_empty() && moving.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let realms: BTreeSet<Uuid> = leaving.iter().map(|l| l.realm_id).chain(moving.iter().map(|m| m.realm_id)).collect();
    let rules = rules(db, &realms, true).await?;
    let counted = |realm: &Uuid, started_at: i64| {
        rules.get(realm).is_some_and(|(cutoff, not_before)| started_at > *cutoff && started_at >= *not_before)
    };
    let buckets = |expires_at: i64| [expires_at / MINUTE_MS, hour_bucket(expires_at / HOUR_MS)];
    let mut groups: BTreeMap<(Uuid, Uuid, &str, i64), i64> = BTreeMap::new();
    let mut add = |realm: Uuid, clients: &[Uuid], kind, bucket: i64, n: i64| {
        for client in std::iter::once(&WHOLE_REALM).chain(clients) {
            *groups.entry((realm, *client, kind, bucket)).or_default() += n;
        }
    };
    for l in leaving.iter().filter(|l| counted(&l.realm_id, l.started_at)) {
        let kind = l.session_type.as_str();
        for bucket in std::iter::once(TOTAL).chain(buckets(l.expires_at)) {
            add(l.realm_id, &l.clients, kind, bucket, -1);
        }
    }
    for m in moving.iter().filter(|m| counted(&m.realm_id, m.started_at)) {
        let kind = m.session_type.as_str();
        for (from, to) in buckets(m.from).into_iter().zip(buckets(m.to)) {
            if from != to {
                add(m.realm_id, &m.clients, kind, from, -1);
                add(m.realm_id, &m.clients, kind, to, 1);
            }
        }
    }
    groups.retain(|_, n| *n != 0);
    if groups.is_empty() {
        return Ok(());
    }
    let slot = random_slot();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(groups.len() * 6);
    for ((realm, client, kind, bucket), n) in &groups {
        values.extend([(*realm).into(), (*client).into(), (*kind).into(), (*bucket).into(), slot.into(), (*n).into()]);
    }
    let sql = format!(
        "INSERT INTO session_counts (realm_id, client_id, session_type, bucket, slot, n) VALUES {} \
         ON CONFLICT (realm_id, client_id, session_type, bucket, slot) DO UPDATE SET n = session_counts.n + excluded.n",
        vec!["(?, ?, ?, ?, ?, ?)"; groups.len()].join(", ")
    );
    db.execute(raw(backend, &sql, values)).await?;
    Ok(())
}

/// Takes a session out of its expiry minute (`sign` -1, before its `expires_at` moves) or puts
/// it in its new one (`sign` 1, after), with its client sessions; totals are unchanged.
pub(crate) async fn rebucket(db: &impl ConnectionTrait, id: Uuid, sign: i64) -> Result<(), StoreError> {
    let slot = random_slot();
    let only = Cond::all().add(us(user_session::Column::Id).eq(id));
    apply(db, both(Part::Buckets, |bucket| realm_groups(&only, sign, slot, bucket))).await?;
    let held = Cond::all().add(Expr::col((client_session::Entity, client_session::Column::UserSessionId)).eq(id));
    apply(db, both(Part::Buckets, |bucket| client_groups(&held, sign, slot, bucket))).await
}

/// Forgets the rows of `realm_id`'s minute and hour buckets gone by (before the last minute and
/// hour) whose rows sum to zero: every session counted in them has ended, so they change no
/// count — without this the table kept a row per client, type, slot and minute sessions ever
/// timed out in (a realm whose sessions spread over 30 days: hundreds of thousands, all read
/// again by a logout-all's recount). A group still summing to more is kept: sessions the
/// reaper has not ended yet. The realm's row is locked first (PostgreSQL): the writers that
/// put sessions into past buckets — an ending, a move to new limits — read it locked too, so
/// none adds to a group between its sum and its removal. Answers how many rows went.
pub async fn forget_settled(db: &impl ConnectionTrait, realm_id: RealmId, now: Timestamp) -> Result<u64, StoreError> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        let lock = "SELECT id FROM realms WHERE id = ? FOR UPDATE";
        db.query_one(raw(backend, lock, vec![realm_id.as_uuid().into()])).await?;
    }
    let minute = now.as_millis() / MINUTE_MS - 1;
    let hour = hour_bucket(now.as_millis() / HOUR_MS - 1);
    let past = "((bucket >= 0 AND bucket < ?) OR (bucket > ? AND bucket < -1))";
    let sql = format!(
        "DELETE FROM session_counts WHERE realm_id = ? AND {past} AND (client_id, session_type, bucket) IN \
         (SELECT client_id, session_type, bucket FROM session_counts WHERE realm_id = ? AND {past} \
          GROUP BY client_id, session_type, bucket HAVING SUM(n) = 0)"
    );
    let realm = sea_orm::Value::from(realm_id.as_uuid());
    let values = vec![realm.clone(), minute.into(), hour.into(), realm, minute.into(), hour.into()];
    Ok(db.execute(raw(backend, &sql, values)).await?.rows_affected())
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
/// table is first created. Two statements, the realm's own totals and its clients': each reads
/// the realm's counted sessions once (a range of `ix_user_sessions_realm_started` from the
/// cut-off; empty right after a logout-all), grouped by expiry minute, and sums the hours and
/// the totals from those groups. (Written as three selects of the sessions, the totals' one was
/// answered by walking the realm's whole `ix_user_sessions_live` for its order: 300 ms at a
/// million sessions right after a logout-all had made every one of them uncounted.)
pub async fn recount(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<(), StoreError> {
    let clear = Query::delete()
        .from_table(SessionCounts::Table)
        .and_where(Expr::col(SessionCounts::RealmId).eq(realm_id.as_uuid()))
        .to_owned();
    db.execute(statement(db.get_database_backend(), &clear)).await?;
    // (The caller moved the realm's cut-off or not-before in this transaction: its row is ours.)
    let realm = std::collections::BTreeSet::from([realm_id.as_uuid()]);
    let Some(from) = rules(db, &realm, false).await?.remove(&realm_id.as_uuid()) else { return Ok(()) };
    for by_client in [false, true] {
        db.execute(recount_statement(db.get_database_backend(), realm_id, from, by_client)).await?;
    }
    Ok(())
}

/// The recount of the realm's totals or its clients', of the sessions started after `cutoff`
/// and at or after `not_before` (ms).
fn recount_statement(
    backend: DatabaseBackend,
    realm_id: RealmId,
    (cutoff, not_before): (i64, i64),
    by_client: bool,
) -> Statement {
    let realm = sea_orm::Value::from(realm_id.as_uuid());
    let (client_col, join, group, mut values) = if by_client {
        ("cs.client_id", " JOIN client_sessions cs ON cs.user_session_id = us.id", "cs.client_id, ", vec![])
    } else {
        ("?", "", "", vec![sea_orm::Value::from(WHOLE_REALM)])
    };
    values.extend([realm.clone(), cutoff.into(), not_before.into()]);
    values.extend([realm.clone(), realm.clone(), realm]);
    // `state = 'ACTIVE'` written out, as in `dead_this_minute_statement`. The realm's rule is
    // the bounds of the range read, as values (PostgreSQL estimates a range beyond its
    // statistics' last value by the index itself; a bound from a join or a subquery it guessed
    // at a third of the realm, and read all of it); SQLite is told the index.
    let sql = format!(
        "WITH minutes AS (\
           SELECT {client_col} AS client_id, us.session_type AS session_type, us.expires_at / {MINUTE_MS} AS minute, \
             COUNT(*) AS n \
           FROM user_sessions us{indexed}{join} \
           WHERE us.realm_id = ? AND us.state = 'ACTIVE' \
             AND us.started_at > ? AND us.started_at >= ? \
           GROUP BY {group}us.session_type, us.expires_at / {MINUTE_MS}) \
         INSERT INTO session_counts (realm_id, client_id, session_type, bucket, slot, n) \
         SELECT ?, client_id, session_type, minute, 0, n FROM minutes \
         UNION ALL SELECT ?, client_id, session_type, -2 - minute / {per_hour}, 0, CAST(SUM(n) AS BIGINT) FROM minutes \
           GROUP BY client_id, session_type, minute / {per_hour} \
         UNION ALL SELECT ?, client_id, session_type, {TOTAL}, 0, CAST(SUM(n) AS BIGINT) FROM minutes \
           GROUP BY client_id, session_type \
         ON CONFLICT (realm_id, client_id, session_type, bucket, slot) DO UPDATE SET n = session_counts.n + excluded.n",
        per_hour = HOUR_MS / MINUTE_MS,
        indexed = if backend == DatabaseBackend::Postgres { "" } else { " INDEXED BY ix_user_sessions_realm_started" },
    );
    raw(backend, &sql, values)
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
        .and_where(Expr::col(SessionCounts::Bucket).eq(TOTAL))
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

/// A statement of `sql` with `?` placeholders, numbered `$1`, `$2` … on PostgreSQL.
pub(crate) fn raw(backend: DatabaseBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let text = if backend == DatabaseBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, text, values)
}

/// Counted sessions of `realm_id` that timed out in the current minute, up to `now`, by
/// (client, type) — the client `NIL` for the realm's own totals. A range of
/// `ix_user_sessions_expiry` no longer than a minute (and the reaper ends what is in it).
async fn dead_this_minute(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    by_client: bool,
    only_client: Option<ClientId>,
    now: Timestamp,
) -> Result<Vec<(Uuid, String, i64)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Group {
        client_id: Option<Uuid>,
        session_type: String,
        n: i64,
    }
    let statement = dead_this_minute_statement(db.get_database_backend(), realm_id, by_client, only_client, now);
    let groups = Group::find_by_statement(statement).all(db).await?;
    Ok(groups.into_iter().map(|g| (g.client_id.unwrap_or(WHOLE_REALM), g.session_type, g.n)).collect())
}

/// Where the counts' correction begins at `now` (epoch ms): the start of the current minute.
/// Sessions timed out before it are left out by the buckets of minutes past; those timed out
/// since and not ended yet are read one by one ([`alive`]).
pub fn corrected_from(now: Timestamp) -> i64 {
    now.as_millis() / MINUTE_MS * MINUTE_MS
}

fn dead_this_minute_statement(
    backend: DatabaseBackend,
    realm_id: RealmId,
    by_client: bool,
    only_client: Option<ClientId>,
    now: Timestamp,
) -> Statement {
    let minute_start = corrected_from(now);
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let (client_col, join) = if by_client {
        let mut join = " JOIN client_sessions cs ON cs.user_session_id = us.id".to_owned();
        if let Some(client) = only_client {
            join.push_str(" AND cs.client_id = ?");
            values.push(client.as_uuid().into());
        }
        ("cs.client_id", join)
    } else {
        ("NULL", String::new())
    };
    values.extend([realm_id.as_uuid().into(), minute_start.into(), now.as_millis().into()]);
    // `state = 'ACTIVE'` written out: the partial index is used only for a literal.
    let sql = format!(
        "SELECT {client_col} AS client_id, us.session_type AS session_type, COUNT(*) AS n \
         FROM user_sessions us{indexed}{join} JOIN realms r ON r.id = us.realm_id \
         WHERE us.realm_id = ? AND us.state = 'ACTIVE' AND us.expires_at >= ? AND us.expires_at <= ? \
           AND us.started_at > r.session_cutoff AND us.started_at >= r.not_before * 1000 \
         GROUP BY {group}us.session_type",
        group = if by_client { "cs.client_id, " } else { "" },
        indexed = if backend == DatabaseBackend::Postgres { "" } else { " INDEXED BY ix_user_sessions_expiry" },
    );
    raw(backend, &sql, values)
}

/// Totals less the buckets of minutes already past, by (client, type), for these clients
/// (`NIL`: the realm's own totals). Without a time, the totals alone.
async fn totals_less_past(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    clients: &[Uuid],
    now: Option<Timestamp>,
) -> Result<Vec<(Uuid, String, i64)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Group {
        client_id: Uuid,
        session_type: String,
        n: Option<i64>,
    }
    if clients.is_empty() {
        return Ok(Vec::new());
    }
    let statement = totals_less_past_statement(db.get_database_backend(), realm_id, clients, now);
    let groups = Group::find_by_statement(statement).all(db).await?;
    Ok(groups.into_iter().map(|g| (g.client_id, g.session_type, g.n.unwrap_or(0))).collect())
}

/// Two ranges of the primary key per (client, type): the totals' bucket, and the minutes past
/// (none before minute 0, so no time reads the totals alone).
fn totals_less_past_statement(
    backend: DatabaseBackend,
    realm_id: RealmId,
    clients: &[Uuid],
    now: Option<Timestamp>,
) -> Statement {
    // Without a time, no bucket is past: the totals alone.
    let (hours_after, minutes_from, minutes_before) = match now {
        Some(now) => {
            let hour = now.as_millis() / HOUR_MS;
            (hour_bucket(hour), hour * (HOUR_MS / MINUTE_MS), now.as_millis() / MINUTE_MS)
        }
        None => (TOTAL, 0, 0),
    };
    let marks = vec!["?"; clients.len()].join(", ");
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let mut parts = Vec::new();
    // Each type its own ranges: a type written as a literal is an index condition on both
    // backends (PostgreSQL would filter a list of them, its column being varchar). Past
    // expiries are read as whole hours before this one, then the minutes of this hour so far.
    for kind in ["REGULAR", "OFFLINE"] {
        let ranges: [(&str, String, Vec<i64>); 3] = [
            ("", format!("bucket = {TOTAL}"), vec![]),
            ("-", "bucket > ? AND bucket < ?".to_owned(), vec![hours_after, TOTAL]),
            ("-", "bucket >= ? AND bucket < ?".to_owned(), vec![minutes_from, minutes_before]),
        ];
        for (sign, buckets, bounds) in ranges {
            parts.push(format!(
                "SELECT client_id, session_type, {sign}n AS n FROM session_counts \
                 WHERE realm_id = ? AND client_id IN ({marks}) AND session_type = '{kind}' AND {buckets}"
            ));
            values.push(realm_id.as_uuid().into());
            values.extend(clients.iter().map(|c| sea_orm::Value::from(*c)));
            values.extend(bounds.into_iter().map(sea_orm::Value::from));
        }
    }
    let sql = format!(
        "SELECT client_id, session_type, CAST(SUM(n) AS BIGINT) AS n FROM ({}) parts GROUP BY client_id, session_type",
        parts.join(" UNION ALL ")
    );
    raw(backend, &sql, values)
}

/// The statements a count of the realm and of `client` runs at `now`, named (for
/// [`crate::listing::explain`]).
pub fn statements(
    backend: DatabaseBackend,
    realm_id: RealmId,
    client: ClientId,
    now: Timestamp,
) -> Vec<(String, Statement)> {
    vec![
        (
            "realm count: totals less the minutes past".to_owned(),
            totals_less_past_statement(backend, realm_id, &[WHOLE_REALM], Some(now)),
        ),
        ("realm count: this minute so far".to_owned(), dead_this_minute_statement(backend, realm_id, false, None, now)),
        (
            "client count: totals less the minutes past".to_owned(),
            totals_less_past_statement(backend, realm_id, &[client.as_uuid()], Some(now)),
        ),
        (
            "client count: this minute so far".to_owned(),
            dead_this_minute_statement(backend, realm_id, true, Some(client), now),
        ),
        (
            "client-session-stats: this minute so far".to_owned(),
            dead_this_minute_statement(backend, realm_id, true, None, now),
        ),
        (
            "recount after a cut-off: the realm".to_owned(),
            recount_statement(backend, realm_id, (now.as_millis(), 0), false),
        ),
        (
            "recount after a cut-off: its clients".to_owned(),
            recount_statement(backend, realm_id, (now.as_millis(), 0), true),
        ),
    ]
}

/// How many counted sessions the realm has alive at `now` — holding a client session of
/// `client`, if given — of one type or both: the totals, less the buckets of the hours past and
/// of this hour's minutes past,
/// less what timed out in this minute so far. Nothing read grows with the sessions, dead or
/// alive: only with the minutes the reaper is behind.
pub async fn alive(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    client: Option<ClientId>,
    session_type: Option<SessionType>,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let wanted = |kind: &str| session_type.is_none_or(|t| t.as_str() == kind);
    let mut n: i64 = totals_less_past(db, realm_id, &[client.map_or(WHOLE_REALM, |c| c.as_uuid())], Some(now))
        .await?
        .iter()
        .filter(|(_, kind, _)| wanted(kind))
        .map(|(_, _, n)| n)
        .sum();
    n -= dead_this_minute(db, realm_id, client.is_some(), client, now)
        .await?
        .iter()
        .filter(|(_, kind, _)| wanted(kind))
        .map(|(_, _, n)| n)
        .sum::<i64>();
    Ok(n.max(0) as u64)
}

/// Per client of the realm with at least one session alive at `now` (counted at all, without
/// a time): (client id, clientId, regular, offline), by clientId — from the counts as
/// [`alive`] reads them.
pub async fn by_client(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    now: Option<Timestamp>,
) -> Result<Vec<ClientStat>, StoreError> {
    by_client_named(db, realm_id, |_| true, now).await
}

/// [`by_client`] for the clients whose clientId `named` keeps: nothing is read of the counts
/// when it keeps none (a search's term naming no client), and the current minute's correction
/// reads one client's sessions when it keeps one.
pub async fn by_client_named(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    named: impl Fn(&str) -> bool,
    now: Option<Timestamp>,
) -> Result<Vec<ClientStat>, StoreError> {
    let names: std::collections::HashMap<Uuid, String> = crate::clients::list(db, realm_id)
        .await?
        .into_iter()
        .filter(|c| named(&c.client_id))
        .map(|c| (c.id.as_uuid(), c.client_id))
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = names.keys().copied().collect();
    let mut by: std::collections::HashMap<(Uuid, String), i64> = std::collections::HashMap::new();
    for (client, kind, n) in totals_less_past(db, realm_id, &ids, now).await? {
        *by.entry((client, kind)).or_default() += n;
    }
    if let Some(now) = now {
        let only = match ids.as_slice() {
            [one] => Some(ClientId::from(*one)),
            _ => None,
        };
        for (client, kind, n) in dead_this_minute(db, realm_id, true, only, now).await? {
            *by.entry((client, kind)).or_default() -= n;
        }
    }
    let mut rows: Vec<(String, Uuid, String, i64)> = by
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .filter_map(|((client, kind), n)| names.get(&client).map(|name| (name.clone(), client, kind, n)))
        .collect();
    rows.sort();
    let mut stats: Vec<ClientStat> = Vec::new();
    for (name, client, kind, n) in rows {
        add_stat(&mut stats, client.into(), name, &kind, n as u64);
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
