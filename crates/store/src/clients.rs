//! Clients (applications).

use latchkey_domain::{Client, ClientId, RealmId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::{client_from, client_row};
use crate::entity::client;
use crate::error::conflict_as;
use crate::StoreError;

pub async fn insert(db: &impl ConnectionTrait, c: &Client) -> Result<(), StoreError> {
    client::Entity::insert(client_row(c))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("client '{}'", c.client_id)))?;
    Ok(())
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: ClientId) -> Result<Option<Client>, StoreError> {
    client::Entity::find_by_id(id.as_uuid()).one(db).await?.map(client_from).transpose()
}

pub async fn find_by_client_id(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    client_id: &str,
) -> Result<Option<Client>, StoreError> {
    let row = client::Entity::find()
        .filter(client::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(client::Column::ClientId.eq(client_id))
        .one(db)
        .await?;
    row.map(client_from).transpose()
}

/// A realm's clients, by clientId.
pub async fn list(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<Vec<Client>, StoreError> {
    let rows = client::Entity::find()
        .filter(client::Column::RealmId.eq(realm_id.as_uuid()))
        .order_by_asc(client::Column::ClientId)
        .all(db)
        .await?;
    rows.into_iter().map(client_from).collect()
}

/// Deletes a client and, by cascade, its client sessions. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, id: ClientId) -> Result<bool, StoreError> {
    crate::counts::forget_client(db, id).await?;
    Ok(client::Entity::delete_by_id(id.as_uuid()).exec(db).await?.rows_affected == 1)
}

/// Writes every field of a client. Returns whether it existed.
pub async fn update(db: &impl ConnectionTrait, c: &Client) -> Result<bool, StoreError> {
    let result = client::Entity::update_many()
        .set(client_row(c))
        .filter(client::Column::Id.eq(c.id.as_uuid()))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("client '{}'", c.client_id)))?;
    Ok(result.rows_affected == 1)
}

/// Writes the fields in which `after` differs from `before` and nothing else (see
/// [`crate::realms::update_changed`]): an update racing a disable never re-enables the client.
pub async fn update_changed(db: &impl ConnectionTrait, before: &Client, after: &Client) -> Result<(), StoreError> {
    let what = || format!("client '{}'", after.client_id);
    let id = client::Column::Id.eq(after.id.as_uuid());
    crate::convert::update_changed(db, &client_row(before), &client_row(after), id, what).await
}
