//! Users and their administrative role grants.

use latchkey_domain::user::normalize_username;
use latchkey_domain::{AdminRole, Timestamp, User};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::convert::{user_from, user_row};
use crate::entity::{role_grant, user};
use crate::error::conflict_as;
use crate::StoreError;

pub async fn insert(db: &impl ConnectionTrait, u: &User) -> Result<(), StoreError> {
    user::Entity::insert(user_row(u)).exec(db).await.map_err(conflict_as(|| format!("user '{}'", u.username)))?;
    Ok(())
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id).one(db).await?.map(user_from))
}

/// The user of `realm_id` called `username`, in any case.
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    realm_id: Uuid,
    username: &str,
) -> Result<Option<User>, StoreError> {
    let Ok(username) = normalize_username(username) else {
        return Ok(None);
    };
    let row = user::Entity::find()
        .filter(user::Column::RealmId.eq(realm_id))
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?;
    Ok(row.map(user_from))
}

/// Grants `role` to a user; granting a role the user already holds changes nothing.
pub async fn grant_role(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    role: AdminRole,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = role_grant::ActiveModel {
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        granted_at: Set(now.as_millis()),
    };
    let on_conflict = sea_orm::sea_query::OnConflict::columns([role_grant::Column::UserId, role_grant::Column::Role])
        .do_nothing()
        .to_owned();
    role_grant::Entity::insert(row).on_conflict(on_conflict).do_nothing().exec(db).await?;
    Ok(())
}

pub async fn roles_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<AdminRole>, StoreError> {
    let rows = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .order_by_asc(role_grant::Column::Role)
        .all(db)
        .await?;
    rows.into_iter().map(|r| r.role.parse().map_err(StoreError::from)).collect()
}

/// Deletes a user and, by cascade, its sessions and grants. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, StoreError> {
    Ok(user::Entity::delete_by_id(id).exec(db).await?.rows_affected == 1)
}

/// Writes every field of a user. Returns whether it existed.
pub async fn update(db: &impl ConnectionTrait, u: &User) -> Result<bool, StoreError> {
    let result = user::Entity::update_many()
        .set(user_row(u))
        .filter(user::Column::Id.eq(u.id))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("user '{}'", u.username)))?;
    Ok(result.rows_affected == 1)
}
