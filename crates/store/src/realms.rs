//! Realms.

use latchkey_domain::Realm;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::convert::{realm_from, realm_row};
use crate::entity::realm;
use crate::error::conflict_as;
use crate::StoreError;

pub async fn insert(db: &impl ConnectionTrait, r: &Realm) -> Result<(), StoreError> {
    realm::Entity::insert(realm_row(r)).exec(db).await.map_err(conflict_as(|| format!("realm '{}'", r.name)))?;
    Ok(())
}

pub async fn find_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<Realm>, StoreError> {
    let row = realm::Entity::find().filter(realm::Column::Name.eq(name)).one(db).await?;
    row.map(realm_from).transpose()
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Option<Realm>, StoreError> {
    realm::Entity::find_by_id(id).one(db).await?.map(realm_from).transpose()
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(realm::Entity::find().count(db).await?)
}

/// Every realm, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Realm>, StoreError> {
    let rows = realm::Entity::find().order_by_asc(realm::Column::Name).all(db).await?;
    rows.into_iter().map(realm_from).collect()
}

/// Deletes a realm and, by cascade, everything in it. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, id: uuid::Uuid) -> Result<bool, StoreError> {
    Ok(realm::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Writes every field of a realm. Returns whether it existed. Moving its session cut-off or
/// not-before recounts its sessions (see [`crate::counts`]).
pub async fn update(db: &impl ConnectionTrait, r: &Realm) -> Result<bool, StoreError> {
    let before = find_by_id(db, r.id).await?;
    let result = realm::Entity::update_many()
        .set(realm_row(r))
        .filter(realm::Column::Id.eq(r.id))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("realm '{}'", r.name)))?;
    if before.is_some_and(|b| b.session_cutoff != r.session_cutoff || b.not_before != r.not_before) {
        crate::counts::recount(db, r.id).await?;
    }
    Ok(result.rows_affected == 1)
}
