//! User sessions and their client sessions.

use latchkey_domain::{ClientSession, SessionEnd, SessionState, Timestamp, UserSession};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::convert::{client_session_from, client_session_row, user_session_from, user_session_row};
use crate::entity::{client_session, user_session};
use crate::StoreError;

pub async fn insert_user_session(db: &impl ConnectionTrait, s: &UserSession) -> Result<(), StoreError> {
    user_session::Entity::insert(user_session_row(s)).exec(db).await?;
    Ok(())
}

pub async fn insert_client_session(db: &impl ConnectionTrait, c: &ClientSession) -> Result<(), StoreError> {
    client_session::Entity::insert(client_session_row(c)).exec(db).await?;
    Ok(())
}

pub async fn find_user_session(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<UserSession>, StoreError> {
    user_session::Entity::find_by_id(id).one(db).await?.map(user_session_from).transpose()
}

/// The client sessions of one user session, oldest first.
pub async fn client_sessions_of(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
) -> Result<Vec<ClientSession>, StoreError> {
    let rows = client_session::Entity::find()
        .filter(client_session::Column::UserSessionId.eq(user_session_id))
        .order_by_asc(client_session::Column::StartedAt)
        .all(db)
        .await?;
    rows.into_iter().map(client_session_from).collect()
}

pub async fn find_client_session(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
    client_id: Uuid,
) -> Result<Option<ClientSession>, StoreError> {
    client_session::Entity::find_by_id((user_session_id, client_id)).one(db).await?.map(client_session_from).transpose()
}

/// Inserts a client session, or — when the client already has one in this user session (a
/// second sign-in of the same application within one SSO session) — refreshes it in place.
pub async fn upsert_client_session(db: &impl ConnectionTrait, c: &ClientSession) -> Result<(), StoreError> {
    let on_conflict = OnConflict::columns([client_session::Column::UserSessionId, client_session::Column::ClientId])
        .update_columns([
            client_session::Column::LastRefresh,
            client_session::Column::Scopes,
            client_session::Column::RedirectUri,
            client_session::Column::RefreshTokenId,
        ])
        .to_owned();
    client_session::Entity::insert(client_session_row(c)).on_conflict(on_conflict).exec(db).await?;
    Ok(())
}

/// Makes `new_id` the one usable refresh token of a client session, if `current_id` still is.
/// A compare-and-set: of two refreshes racing with the same token, exactly one wins.
pub async fn rotate_refresh_token(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
    client_id: Uuid,
    current_id: &str,
    new_id: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let result = client_session::Entity::update_many()
        .col_expr(client_session::Column::RefreshTokenId, Expr::value(new_id))
        .col_expr(client_session::Column::LastRefresh, Expr::value(now.as_millis()))
        .filter(client_session::Column::UserSessionId.eq(user_session_id))
        .filter(client_session::Column::ClientId.eq(client_id))
        .filter(client_session::Column::RefreshTokenId.eq(current_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Sets the refresh token id of a client session unconditionally (on issuing a new one).
pub async fn set_refresh_token(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
    client_id: Uuid,
    id: &str,
) -> Result<(), StoreError> {
    client_session::Entity::update_many()
        .col_expr(client_session::Column::RefreshTokenId, Expr::value(id))
        .filter(client_session::Column::UserSessionId.eq(user_session_id))
        .filter(client_session::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a use of an active session, coalesced: the row is written only when its
/// `last_access` is older than `now - granularity`, so a session refreshed many times a
/// minute costs one write a minute, not one per request. Idle expiry is therefore judged
/// against a `last_access` that may lag by up to `granularity`; callers pick a granularity
/// far below the idle timeout. Returns whether the row was written.
pub async fn touch(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
    now: Timestamp,
    granularity_ms: i64,
) -> Result<bool, StoreError> {
    let result = user_session::Entity::update_many()
        .col_expr(user_session::Column::LastAccess, Expr::value(now.as_millis()))
        .filter(user_session::Column::Id.eq(user_session_id))
        .filter(user_session::Column::State.eq(SessionState::Active.as_str()))
        .filter(user_session::Column::LastAccess.lt(now.as_millis() - granularity_ms))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes one client session (its refresh tokens stop working). Returns whether it existed.
pub async fn delete_client_session(
    db: &impl ConnectionTrait,
    user_session_id: Uuid,
    client_id: Uuid,
) -> Result<bool, StoreError> {
    let result = client_session::Entity::delete_by_id((user_session_id, client_id)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Ends the given sessions that are still active: marks them ended with `reason`, removes
/// their client sessions (so no refresh token of theirs works) and returns the ids it ended.
/// The one way every ending goes through; it runs inside the caller's transaction.
pub async fn end_sessions(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    reason: SessionEnd,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let active: Vec<Uuid> = user_session::Entity::find()
        .select_only()
        .column(user_session::Column::Id)
        .filter(user_session::Column::Id.is_in(ids.iter().copied()))
        .filter(user_session::Column::State.eq(SessionState::Active.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    if active.is_empty() {
        return Ok(active);
    }
    user_session::Entity::update_many()
        .col_expr(user_session::Column::State, Expr::value(SessionState::Ended.as_str()))
        .col_expr(user_session::Column::EndedAt, Expr::value(now.as_millis()))
        .col_expr(user_session::Column::EndReason, Expr::value(reason.as_str()))
        .filter(user_session::Column::Id.is_in(active.iter().copied()))
        .filter(user_session::Column::State.eq(SessionState::Active.as_str()))
        .exec(db)
        .await?;
    client_session::Entity::delete_many()
        .filter(client_session::Column::UserSessionId.is_in(active.iter().copied()))
        .exec(db)
        .await?;
    Ok(active)
}
