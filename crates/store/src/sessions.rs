//! User sessions and their client sessions.

use latchkey_domain::{
    ClientId, ClientSession, RealmId, SessionEnd, SessionId, SessionState, Timestamp, UserId, UserSession, Which,
};
use sea_orm::sea_query::{Cond, Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::convert::{client_session_from, client_session_row, user_session_from, user_session_row};
use crate::entity::{client_session, user_session};
use crate::{counts, StoreError};

pub async fn insert_user_session(db: &impl ConnectionTrait, s: &UserSession) -> Result<(), StoreError> {
    user_session::Entity::insert(user_session_row(s)).exec(db).await?;
    counts::sessions(db, &[s.id.as_uuid()], 1).await
}

/// Starts the offline session `s` (keyed by `SessionId::offline_of` its sign-in), or joins
/// the one that sign-in already started: an offline session already live under that key is
/// kept (the caller adds its client session), one that ended is replaced. Returns whether a
/// new session was started.
pub async fn start_or_join_offline(db: &impl ConnectionTrait, s: &UserSession) -> Result<bool, StoreError> {
    user_session::Entity::delete_many()
        .filter(user_session::Column::Id.eq(s.id.as_uuid()))
        .filter(user_session::Column::State.eq(SessionState::Ended.as_str()))
        .exec(db)
        .await?;
    let keep = OnConflict::column(user_session::Column::Id).do_nothing().to_owned();
    let inserted =
        user_session::Entity::insert(user_session_row(s)).on_conflict(keep).exec_without_returning(db).await?;
    if inserted == 1 {
        counts::sessions(db, &[s.id.as_uuid()], 1).await?;
    }
    Ok(inserted == 1)
}

pub async fn insert_client_session(db: &impl ConnectionTrait, c: &ClientSession) -> Result<(), StoreError> {
    client_session::Entity::insert(client_session_row(c)).exec(db).await?;
    counts::client_sessions(db, one_client_session(c.user_session_id, c.client_id), 1).await
}

fn one_client_session(user_session_id: SessionId, client_id: ClientId) -> Cond {
    Cond::all()
        .add(Expr::col((client_session::Entity, client_session::Column::UserSessionId)).eq(user_session_id.as_uuid()))
        .add(Expr::col((client_session::Entity, client_session::Column::ClientId)).eq(client_id.as_uuid()))
}

pub async fn find_user_session(db: &impl ConnectionTrait, id: SessionId) -> Result<Option<UserSession>, StoreError> {
    user_session::Entity::find_by_id(id.as_uuid()).one(db).await?.map(user_session_from).transpose()
}

/// The session the world knows as `id` (see `UserSession::public_id`) of the kind `which`
/// asks for: a live one before an ended one, then in the order of `UserSession::keys_of`.
pub async fn find_by_public_id(
    db: &impl ConnectionTrait,
    id: SessionId,
    which: Which,
) -> Result<Option<UserSession>, StoreError> {
    let keys = UserSession::keys_of(id, which);
    let rows = user_session::Entity::find()
        .filter(user_session::Column::Id.is_in(keys.iter().map(SessionId::as_uuid)))
        .all(db)
        .await?;
    let mut found: Vec<UserSession> = rows
        .into_iter()
        .map(user_session_from)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|s| s.is(which))
        .collect();
    found.sort_by_key(|s| (s.state != SessionState::Active, keys.iter().position(|k| *k == s.id)));
    Ok(found.into_iter().next())
}

/// The client sessions of one user session, oldest first.
pub async fn client_sessions_of(
    db: &impl ConnectionTrait,
    user_session_id: SessionId,
) -> Result<Vec<ClientSession>, StoreError> {
    let rows = client_session::Entity::find()
        .filter(client_session::Column::UserSessionId.eq(user_session_id.as_uuid()))
        .order_by_asc(client_session::Column::StartedAt)
        .all(db)
        .await?;
    rows.into_iter().map(client_session_from).collect()
}

pub async fn find_client_session(
    db: &impl ConnectionTrait,
    user_session_id: SessionId,
    client_id: ClientId,
) -> Result<Option<ClientSession>, StoreError> {
    client_session::Entity::find_by_id((user_session_id.as_uuid(), client_id.as_uuid()))
        .one(db)
        .await?
        .map(client_session_from)
        .transpose()
}

/// Inserts a client session, or — when the client already has one in this user session (a
/// second sign-in of the same application within one SSO session) — refreshes it in place.
pub async fn upsert_client_session(db: &impl ConnectionTrait, c: &ClientSession) -> Result<(), StoreError> {
    let keep = OnConflict::columns([client_session::Column::UserSessionId, client_session::Column::ClientId])
        .do_nothing()
        .to_owned();
    let inserted =
        client_session::Entity::insert(client_session_row(c)).on_conflict(keep).exec_without_returning(db).await?;
    if inserted == 1 {
        return counts::client_sessions(db, one_client_session(c.user_session_id, c.client_id), 1).await;
    }
    client_session::Entity::update_many()
        .col_expr(client_session::Column::LastRefresh, Expr::value(c.last_refresh.as_millis()))
        .col_expr(client_session::Column::Scopes, Expr::value(c.scopes.join(" ")))
        .col_expr(client_session::Column::RedirectUri, Expr::value(c.redirect_uri.clone()))
        .col_expr(client_session::Column::RefreshTokenId, Expr::value(c.refresh_token_id.clone()))
        .filter(client_session::Column::UserSessionId.eq(c.user_session_id.as_uuid()))
        .filter(client_session::Column::ClientId.eq(c.client_id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes `new_id` the one usable refresh token of a client session, if `current_id` still is.
/// A compare-and-set: of two refreshes racing with the same token, exactly one wins.
pub async fn rotate_refresh_token(
    db: &impl ConnectionTrait,
    user_session_id: SessionId,
    client_id: ClientId,
    current_id: &str,
    new_id: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let result = client_session::Entity::update_many()
        .col_expr(client_session::Column::RefreshTokenId, Expr::value(new_id))
        .col_expr(client_session::Column::LastRefresh, Expr::value(now.as_millis()))
        .filter(client_session::Column::UserSessionId.eq(user_session_id.as_uuid()))
        .filter(client_session::Column::ClientId.eq(client_id.as_uuid()))
        .filter(client_session::Column::RefreshTokenId.eq(current_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Sets the refresh token id of a client session unconditionally (on issuing a new one).
pub async fn set_refresh_token(
    db: &impl ConnectionTrait,
    user_session_id: SessionId,
    client_id: ClientId,
    id: &str,
) -> Result<(), StoreError> {
    client_session::Entity::update_many()
        .col_expr(client_session::Column::RefreshTokenId, Expr::value(id))
        .filter(client_session::Column::UserSessionId.eq(user_session_id.as_uuid()))
        .filter(client_session::Column::ClientId.eq(client_id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a use of an active session, coalesced: the row is written only when its
/// `last_access` is older than `now - granularity`, so a session refreshed many times a
/// minute costs one write a minute, not one per request. Idle expiry is therefore judged
/// against a `last_access` that may lag by up to `granularity`; callers pick a granularity
/// far below the idle timeout. The session's `expires_at` moves with it (a trigger), and so
/// does its place in the counts' expiry minutes, in one transaction with the row locked.
/// Returns whether the row was written.
pub async fn touch(
    store: &crate::Store,
    user_session_id: SessionId,
    now: Timestamp,
    granularity_ms: i64,
) -> Result<bool, StoreError> {
    let due = |q: sea_orm::Select<user_session::Entity>| {
        q.select_only()
            .column(user_session::Column::Id)
            .filter(user_session::Column::Id.eq(user_session_id.as_uuid()))
            .filter(user_session::Column::State.eq(SessionState::Active.as_str()))
            .filter(user_session::Column::LastAccess.lt(now.as_millis() - granularity_ms))
            .into_tuple::<Uuid>()
    };
    // Most calls come within the granularity: they read one row and write nothing.
    if due(user_session::Entity::find()).one(store.conn()).await?.is_none() {
        return Ok(false);
    }
    let txn = store.begin().await?;
    if due(user_session::Entity::find().lock_exclusive()).one(&txn).await?.is_none() {
        txn.commit().await?;
        return Ok(false);
    }
    counts::rebucket(&txn, user_session_id.as_uuid(), -1).await?;
    user_session::Entity::update_many()
        .col_expr(user_session::Column::LastAccess, Expr::value(now.as_millis()))
        .filter(user_session::Column::Id.eq(user_session_id.as_uuid()))
        .exec(&txn)
        .await?;
    counts::rebucket(&txn, user_session_id.as_uuid(), 1).await?;
    txn.commit().await?;
    Ok(true)
}

/// Removes one client session (its refresh tokens stop working). Returns whether it existed.
pub async fn delete_client_session(
    db: &impl ConnectionTrait,
    user_session_id: SessionId,
    client_id: ClientId,
) -> Result<bool, StoreError> {
    counts::client_sessions(db, one_client_session(user_session_id, client_id), -1).await?;
    let result =
        client_session::Entity::delete_by_id((user_session_id.as_uuid(), client_id.as_uuid())).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Removes the client sessions of one client in these user sessions, in one statement.
pub async fn delete_client_sessions_of(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    user_session_ids: &[SessionId],
) -> Result<u64, StoreError> {
    if user_session_ids.is_empty() {
        return Ok(0);
    }
    let these = Cond::all()
        .add(Expr::col((client_session::Entity, client_session::Column::ClientId)).eq(client_id.as_uuid()))
        .add(
            Expr::col((client_session::Entity, client_session::Column::UserSessionId))
                .is_in(user_session_ids.iter().map(SessionId::as_uuid)),
        );
    counts::client_sessions(db, these, -1).await?;
    let result = client_session::Entity::delete_many()
        .filter(client_session::Column::ClientId.eq(client_id.as_uuid()))
        .filter(client_session::Column::UserSessionId.is_in(user_session_ids.iter().map(SessionId::as_uuid)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Ends these sessions, which the caller read as active and locked in this transaction
/// ([`load_for_ending`], [`active_expired`]): takes them out of the counts, marks them ended
/// and removes their client sessions. The marked rows are removed later ([`delete_ended`]).
pub async fn end_sessions(
    db: &impl ConnectionTrait,
    ids: &[SessionId],
    reason: SessionEnd,
    now: Timestamp,
) -> Result<(), StoreError> {
    let values = vec![SessionState::Ended.as_str().into(), now.as_millis().into(), reason.as_str().into()];
    leave(db, ids, "UPDATE user_sessions SET state = ?, ended_at = ?, end_reason = ?", values).await
}

/// [`end_sessions`], removing the rows at once instead of marking them: what the reaper ends
/// because it timed out. A mass expiry's ending is all its cost, and a mark is a write of every
/// index the row is in (on PostgreSQL a new version of the row) for a removal to undo later.
pub async fn remove_sessions(db: &impl ConnectionTrait, ids: &[SessionId]) -> Result<(), StoreError> {
    leave(db, ids, "DELETE FROM user_sessions", Vec::new()).await
}

/// Ends `ids` (those active) with `change` (`UPDATE … SET …` or `DELETE FROM`, its values
/// first): removes their client sessions and takes both out of the counts, from what the two
/// statements return — the rows they changed, read once.
async fn leave(
    db: &impl ConnectionTrait,
    ids: &[SessionId],
    change: &str,
    mut values: Vec<sea_orm::Value>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    #[derive(FromQueryResult)]
    struct Ended {
        id: Uuid,
        realm_id: Uuid,
        session_type: String,
        started_at: i64,
        expires_at: i64,
    }
    let backend = db.get_database_backend();
    let marks = vec!["?"; ids.len()].join(", ");
    let id_values = || ids.iter().map(|id| sea_orm::Value::from(id.as_uuid()));
    // The client sessions first: a removed session's would go with it (the foreign key
    // cascades), unreturned.
    let sql =
        format!("DELETE FROM client_sessions WHERE user_session_id IN ({marks}) RETURNING user_session_id, client_id");
    let mut clients = clients_by_session(db, counts::raw(backend, &sql, id_values().collect())).await?;
    values.extend(id_values());
    let ended = Ended::find_by_statement(counts::raw(
        backend,
        &format!(
            "{change} WHERE id IN ({marks}) AND state = 'ACTIVE' \
             RETURNING id, realm_id, session_type, started_at, expires_at"
        ),
        values,
    ))
    .all(db)
    .await?;
    let leaving: Vec<counts::Leaving> = ended
        .into_iter()
        .map(|e| counts::Leaving {
            clients: clients.remove(&e.id).unwrap_or_default(),
            realm_id: e.realm_id,
            session_type: e.session_type,
            started_at: e.started_at,
            expires_at: e.expires_at,
        })
        .collect();
    counts::remove(db, &leaving).await
}

/// The given sessions that are still active, locked (PostgreSQL: of two enders racing — two
/// nodes' reapers, a reaper and an administrator — the second waits, then finds them ended
/// and ends, and announces, nothing), each with the clients it holds client sessions of: what
/// an ending needs to know to tell them.
pub async fn load_for_ending(
    db: &impl ConnectionTrait,
    ids: &[SessionId],
) -> Result<Vec<(UserSession, Vec<latchkey_domain::Client>)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = user_session::Entity::find()
        .filter(user_session::Column::Id.is_in(ids.iter().map(SessionId::as_uuid)))
        .filter(user_session::Column::State.eq(SessionState::Active.as_str()))
        .lock_exclusive()
        .all(db)
        .await?;
    let sessions = rows.into_iter().map(user_session_from).collect::<Result<Vec<_>, _>>()?;
    with_clients(db, sessions).await
}

/// These sessions, each with the clients it holds client sessions of.
pub async fn with_clients(
    db: &impl ConnectionTrait,
    sessions: Vec<UserSession>,
) -> Result<Vec<(UserSession, Vec<latchkey_domain::Client>)>, StoreError> {
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let links = client_session::Entity::find()
        .select_only()
        .column(client_session::Column::UserSessionId)
        .column(client_session::Column::ClientId)
        .filter(client_session::Column::UserSessionId.is_in(sessions.iter().map(|s| s.id.as_uuid())))
        .into_tuple::<(Uuid, Uuid)>()
        .all(db)
        .await?;
    let client_ids: std::collections::BTreeSet<Uuid> = links.iter().map(|(_, c)| *c).collect();
    let clients = crate::entity::client::Entity::find()
        .filter(crate::entity::client::Column::Id.is_in(client_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| crate::convert::client_from(m).map(|c| (c.id.as_uuid(), c)))
        .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
    let mut held: std::collections::HashMap<Uuid, Vec<latchkey_domain::Client>> = std::collections::HashMap::new();
    for (session, client) in &links {
        if let Some(c) = clients.get(client) {
            held.entry(*session).or_default().push(c.clone());
        }
    }
    Ok(sessions
        .into_iter()
        .map(|session| {
            let clients = held.remove(&session.id.as_uuid()).unwrap_or_default();
            (session, clients)
        })
        .collect())
}

fn active() -> sea_orm::sea_query::SimpleExpr {
    user_session::Column::State.eq(SessionState::Active.as_str())
}

async fn ids(
    select: sea_orm::Select<user_session::Entity>,
    db: &impl ConnectionTrait,
) -> Result<Vec<SessionId>, StoreError> {
    let ids: Vec<Uuid> = select.select_only().column(user_session::Column::Id).into_tuple().all(db).await?;
    Ok(ids.into_iter().map(SessionId::from).collect())
}

/// Ids of a user's active sessions, regular and offline.
pub async fn active_ids_of_user(db: &impl ConnectionTrait, user_id: UserId) -> Result<Vec<SessionId>, StoreError> {
    ids(user_session::Entity::find().filter(user_session::Column::UserId.eq(user_id.as_uuid())).filter(active()), db)
        .await
}

/// Up to `limit` active sessions of a realm that started at or before `cutoff` and not before
/// `from` (oldest first), with when each started. The reaper walks a logout-all with `from` as
/// its cursor: the sessions it already ended stay in the index for a while, and starting each
/// batch where the last one stopped keeps it from reading them again and again.
pub async fn active_started_up_to(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    from: Timestamp,
    cutoff: Timestamp,
    limit: u64,
) -> Result<Vec<(SessionId, Timestamp)>, StoreError> {
    let rows: Vec<(Uuid, i64)> = user_session::Entity::find()
        .select_only()
        .column(user_session::Column::Id)
        .column(user_session::Column::StartedAt)
        .filter(user_session::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(user_session::Column::StartedAt.gte(from.as_millis()))
        .filter(user_session::Column::StartedAt.lte(cutoff.as_millis()))
        .filter(active())
        .order_by_asc(user_session::Column::StartedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, at)| (SessionId::from(id), Timestamp::from_millis(at))).collect())
}

/// The (user session, client) rows a statement answers, as each session's clients.
async fn clients_by_session(
    db: &impl ConnectionTrait,
    statement: sea_orm::Statement,
) -> Result<std::collections::HashMap<Uuid, Vec<Uuid>>, StoreError> {
    #[derive(FromQueryResult)]
    struct Held {
        user_session_id: Uuid,
        client_id: Uuid,
    }
    let mut clients: std::collections::HashMap<Uuid, Vec<Uuid>> = std::collections::HashMap::new();
    for h in Held::find_by_statement(statement).all(db).await? {
        clients.entry(h.user_session_id).or_default().push(h.client_id);
    }
    Ok(clients)
}

/// One batch of moving a realm's sessions to its new limits (a `REALM_LIMITS` job): the next
/// `limit` or so active sessions that started after `from` and up to `upto`, oldest start first
/// (a range of `ix_user_sessions_realm_started`), get the `expires_at` the realm's limits give
/// them now, and move their counts' buckets with them — locked first (PostgreSQL), so a use of
/// one racing the batch moves it after the batch, from where the batch put it. Answers the last
/// start the batch covered (the next batch's `from`) and how many sessions it moved, or `None`
/// when none is left. Sessions sharing the last start are all in the batch.
pub async fn reexpire(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    from: Timestamp,
    upto: Timestamp,
    limit: u64,
) -> Result<Option<(Timestamp, u64)>, StoreError> {
    let range = || {
        user_session::Entity::find()
            .select_only()
            .column(user_session::Column::StartedAt)
            .filter(user_session::Column::RealmId.eq(realm_id.as_uuid()))
            .filter(user_session::Column::StartedAt.gt(from.as_millis()))
            .filter(user_session::Column::StartedAt.lte(upto.as_millis()))
            .filter(active())
    };
    let last: Option<i64> = range()
        .order_by_asc(user_session::Column::StartedAt)
        .offset(limit.saturating_sub(1))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    let to = match last {
        Some(at) => at,
        None => match range().order_by_desc(user_session::Column::StartedAt).limit(1).into_tuple().one(db).await? {
            Some(at) => at,
            None => return Ok(None),
        },
    };
    #[derive(FromQueryResult)]
    struct Before {
        id: Uuid,
        session_type: String,
        started_at: i64,
        expires_at: i64,
    }
    #[derive(FromQueryResult)]
    struct After {
        id: Uuid,
        expires_at: i64,
    }
    let backend = db.get_database_backend();
    let lock = if backend == sea_orm::DbBackend::Postgres { " FOR UPDATE" } else { "" };
    let range = "realm_id = ? AND state = 'ACTIVE' AND started_at > ? AND started_at <= ?";
    let bounds = || vec![realm_id.as_uuid().into(), from.as_millis().into(), to.into()];
    // The batch as it is, locked; then moved, the statement returning where each went.
    let before: std::collections::HashMap<Uuid, Before> = Before::find_by_statement(counts::raw(
        backend,
        &format!("SELECT id, session_type, started_at, expires_at FROM user_sessions WHERE {range}{lock}"),
        bounds(),
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|b| (b.id, b))
    .collect();
    let expiry = crate::migration::expiry_sql(backend, "user_sessions", "r");
    let after = After::find_by_statement(counts::raw(
        backend,
        &format!(
            "UPDATE user_sessions SET expires_at = (SELECT {expiry} FROM realms r WHERE r.id = user_sessions.realm_id) \
             WHERE {range} RETURNING id, expires_at"
        ),
        bounds(),
    ))
    .all(db)
    .await?;
    let moved: Vec<(&Before, i64)> = after
        .iter()
        .filter_map(|a| before.get(&a.id).filter(|b| b.expires_at != a.expires_at).map(|b| (b, a.expires_at)))
        .collect();
    if !moved.is_empty() {
        let marks = vec!["?"; moved.len()].join(", ");
        let sql = format!("SELECT user_session_id, client_id FROM client_sessions WHERE user_session_id IN ({marks})");
        let ids = moved.iter().map(|(b, _)| sea_orm::Value::from(b.id)).collect();
        let mut clients = clients_by_session(db, counts::raw(backend, &sql, ids)).await?;
        let moving: Vec<counts::Moving> = moved
            .iter()
            .map(|(b, to)| counts::Moving {
                realm_id: realm_id.as_uuid(),
                session_type: b.session_type.clone(),
                started_at: b.started_at,
                from: b.expires_at,
                to: *to,
                clients: clients.remove(&b.id).unwrap_or_default(),
            })
            .collect();
        // Reads the realm shared after the sessions, as an ending does (the counts' settled
        // buckets are forgotten under its exclusive lock; this may move sessions into past ones).
        counts::shift(db, &moving).await?;
    }
    let moved = after.len() as u64;
    Ok(Some((Timestamp::from_millis(to), moved)))
}

/// Up to `limit` active sessions of a realm that timed out by `now` (`expires_at` at or before
/// it) with `expires_at` in `since..=upto` (the caller's bounds), latest first, each with its
/// `expires_at`: a range of `ix_user_sessions_expiry`, which holds active rows only. Locked
/// (PostgreSQL), as [`load_for_ending`]: read in the transaction that ends them.
pub async fn active_expired(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    (since, upto): (i64, i64),
    now: Timestamp,
    limit: u64,
) -> Result<Vec<(UserSession, i64)>, StoreError> {
    let rows = expired(realm_id, (since, upto), now, limit).lock_exclusive().all(db).await?;
    rows.into_iter()
        .map(|m| {
            let at = m.expires_at;
            Ok((user_session_from(m)?, at))
        })
        .collect()
}

/// Where a walk over a client's sessions stopped ([`with_client`]): the key of
/// `ix_client_sessions_live` past the client, of the last client session read.
#[derive(Clone, Debug, FromQueryResult)]
pub struct ClientCursor {
    user_session_id: Uuid,
    session_type: String,
    remember_me: bool,
    session_last_access: i64,
}

/// Up to `limit` user sessions holding a client session of `client_id` started at or before
/// `started_up_to`, after `after` in the order of `ix_client_sessions_live` (the client's
/// range): a walk over the client's sessions in batches reads each once, from where the last
/// batch stopped — where each batch started again at the beginning, PostgreSQL passed every
/// row the batches before had removed (a sequential scan, a third of the table: 1 ms for the
/// first batch, 177 ms after half a minute). Answers where this one stopped, for the next.
pub async fn with_client(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    started_up_to: Timestamp,
    after: Option<&ClientCursor>,
    limit: u64,
) -> Result<(Vec<SessionId>, Option<ClientCursor>), StoreError> {
    let mut values: Vec<sea_orm::Value> = vec![client_id.as_uuid().into(), started_up_to.as_millis().into()];
    let past = match after {
        Some(c) => {
            values.extend([
                c.session_type.clone().into(),
                c.remember_me.into(),
                c.session_last_access.into(),
                c.user_session_id.into(),
            ]);
            " AND (session_type, remember_me, session_last_access, user_session_id) > (?, ?, ?, ?)"
        }
        None => "",
    };
    let sql = format!(
        "SELECT user_session_id, session_type, remember_me, session_last_access FROM client_sessions \
         WHERE client_id = ? AND started_at <= ?{past} \
         ORDER BY session_type, remember_me, session_last_access, user_session_id LIMIT {limit}"
    );
    let rows = ClientCursor::find_by_statement(counts::raw(db.get_database_backend(), &sql, values)).all(db).await?;
    let ids = rows.iter().map(|r| SessionId::from(r.user_session_id)).collect();
    Ok((ids, rows.into_iter().last()))
}

/// The reaper's walk over what timed out: [`active_expired`]'s rows. Latest first: what timed
/// out this minute is what the counts' correction for this minute reads until it is ended
/// (`counts`), so behind a backlog it goes first, and the backlog's minutes are summed buckets.
pub(crate) fn expired(
    realm_id: RealmId,
    (since, upto): (i64, i64),
    now: Timestamp,
    limit: u64,
) -> sea_orm::Select<user_session::Entity> {
    user_session::Entity::find()
        .filter(user_session::Column::RealmId.eq(realm_id.as_uuid()))
        // Written out: the partial index serves only a literal condition.
        .filter(Expr::cust("user_sessions.state = 'ACTIVE'"))
        .filter(user_session::Column::ExpiresAt.gte(since))
        .filter(user_session::Column::ExpiresAt.lte(upto.min(now.as_millis())))
        .order_by_desc(user_session::Column::ExpiresAt)
        .limit(limit)
}

/// The reaper's walk over ended rows to remove: [`delete_ended`]'s rows.
pub(crate) fn ended(before: Timestamp, limit: u64) -> sea_orm::Select<user_session::Entity> {
    user_session::Entity::find()
        // Written out, as above.
        .filter(Expr::cust("user_sessions.state = 'ENDED'"))
        .filter(user_session::Column::EndedAt.lt(before.as_millis()))
        .order_by_asc(user_session::Column::EndedAt)
        .limit(limit)
}

/// Removes up to `limit` session rows that ended before `before`, oldest first; returns how
/// many. A range of `ix_user_sessions_ended`, which holds the ended rows alone.
pub async fn delete_ended(db: &impl ConnectionTrait, before: Timestamp, limit: u64) -> Result<u64, StoreError> {
    let doomed = ids(ended(before, limit), db).await?;
    if doomed.is_empty() {
        return Ok(0);
    }
    let result = user_session::Entity::delete_many()
        .filter(user_session::Column::Id.is_in(doomed.iter().map(SessionId::as_uuid)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Joins the client session of `client_id` to each user session.
fn client_session_of(client_id: ClientId) -> Cond {
    Cond::all()
        .add(
            Expr::col((client_session::Entity, client_session::Column::UserSessionId))
                .equals((user_session::Entity, user_session::Column::Id)),
        )
        .add(Expr::col((client_session::Entity, client_session::Column::ClientId)).eq(client_id.as_uuid()))
}

/// What judging a token of `client` in session `id` needs, in one round trip: the session, its
/// user, and the client's session in it (if it has one).
/// What a live-session check must not take from a cache: the realm's not-before and logout-all
/// cut-off and the client's state, as the database holds them now (read in the session's own
/// query, so a change made on another node is honoured even before its notification arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub realm_not_before: i64,
    pub realm_session_cutoff: Timestamp,
    /// False when the client is disabled or gone.
    pub client_enabled: bool,
    pub client_not_before: i64,
}

pub async fn with_user_and_client_session(
    db: &impl ConnectionTrait,
    id: SessionId,
    client_id: ClientId,
) -> Result<Option<(UserSession, latchkey_domain::User, Option<ClientSession>, Current)>, StoreError> {
    use sea_orm::sea_query::{Alias, JoinType, Query};
    use sea_orm::{FromQueryResult, IdenStatic, Iterable};

    use crate::entity::user;
    let mut q = Query::select();
    for c in user_session::Column::iter() {
        q.expr_as(Expr::col((user_session::Entity, c)), Alias::new(format!("s_{}", c.as_str())));
    }
    for c in user::Column::iter() {
        q.expr_as(Expr::col((user::Entity, c)), Alias::new(format!("u_{}", c.as_str())));
    }
    for c in client_session::Column::iter() {
        q.expr_as(Expr::col((client_session::Entity, c)), Alias::new(format!("c_{}", c.as_str())));
    }
    use crate::entity::{client, realm};
    q.expr_as(Expr::col((realm::Entity, realm::Column::NotBefore)), Alias::new("r_not_before"))
        .expr_as(Expr::col((realm::Entity, realm::Column::SessionCutoff)), Alias::new("r_session_cutoff"))
        .expr_as(Expr::col((client::Entity, client::Column::Enabled)), Alias::new("k_enabled"))
        .expr_as(Expr::col((client::Entity, client::Column::NotBefore)), Alias::new("k_not_before"));
    q.from(user_session::Entity)
        .join(
            JoinType::InnerJoin,
            realm::Entity,
            Expr::col((realm::Entity, realm::Column::Id)).equals((user_session::Entity, user_session::Column::RealmId)),
        )
        .join(
            JoinType::LeftJoin,
            client::Entity,
            Expr::col((client::Entity, client::Column::Id)).eq(client_id.as_uuid()),
        )
        .join(
            JoinType::InnerJoin,
            user::Entity,
            Expr::col((user::Entity, user::Column::Id)).equals((user_session::Entity, user_session::Column::UserId)),
        )
        .join(JoinType::LeftJoin, client_session::Entity, client_session_of(client_id))
        .and_where(Expr::col((user_session::Entity, user_session::Column::Id)).eq(id.as_uuid()));
    let backend = db.get_database_backend();
    let Some(row) = db.query_one(backend.build(&q)).await? else { return Ok(None) };
    let session = user_session_from(user_session::Model::from_query_result(&row, "s_")?)?;
    let user = crate::convert::user_from(user::Model::from_query_result(&row, "u_")?);
    let held = client_session::Model::from_query_result_optional(&row, "c_")?.map(client_session_from).transpose()?;
    let current = Current {
        realm_not_before: row.try_get("", "r_not_before")?,
        realm_session_cutoff: Timestamp::from_millis(row.try_get("", "r_session_cutoff")?),
        client_enabled: row.try_get::<Option<bool>>("", "k_enabled")?.unwrap_or(false),
        client_not_before: row.try_get::<Option<i64>>("", "k_not_before")?.unwrap_or(0),
    };
    Ok(Some((session, user, held, current)))
}
