//! User sessions and their client sessions.

use latchkey_domain::{ClientSession, UserSession};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
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
