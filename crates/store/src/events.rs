//! The admin-event (audit) log: who did what to which resource of which realm, when, and
//! whether it worked.

use latchkey_domain::{RealmId, Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::admin_event;
use crate::StoreError;

/// One event. `representation` has had every secret removed before it gets here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    pub id: Uuid,
    pub time: Timestamp,
    pub realm_id: RealmId,
    pub auth_realm_id: Option<RealmId>,
    pub auth_client_id: Option<String>,
    pub auth_user_id: Option<UserId>,
    pub ip_address: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `ACTION`.
    pub operation_type: String,
    pub resource_type: String,
    pub resource_path: String,
    pub representation: Option<String>,
    pub error: Option<String>,
}

fn row(e: &AdminEvent) -> admin_event::ActiveModel {
    admin_event::ActiveModel {
        id: Set(e.id),
        time: Set(e.time.as_millis()),
        realm_id: Set(e.realm_id.into()),
        auth_realm_id: Set(e.auth_realm_id.map(Into::into)),
        auth_client_id: Set(e.auth_client_id.clone()),
        auth_user_id: Set(e.auth_user_id.map(Into::into)),
        ip_address: Set(e.ip_address.clone()),
        operation_type: Set(e.operation_type.clone()),
        resource_type: Set(e.resource_type.clone()),
        resource_path: Set(e.resource_path.clone()),
        representation: Set(e.representation.clone()),
        outcome: Set(if e.error.is_some() { "FAILURE" } else { "SUCCESS" }.to_owned()),
        error: Set(e.error.clone()),
    }
}

pub async fn insert_many(db: &impl ConnectionTrait, events: &[AdminEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(500) {
        if !chunk.is_empty() {
            admin_event::Entity::insert_many(chunk.iter().map(row)).exec(db).await?;
        }
    }
    Ok(())
}

/// Filters of the event list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub operation_types: Vec<String>,
    pub resource_types: Vec<String>,
    /// A prefix of the resource path.
    pub resource_path: Option<String>,
    pub auth_user: Option<UserId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// A page of a realm's events, newest first (`ix_admin_events_realm_time`).
pub async fn list(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    q: &EventQuery,
    first: u64,
    max: u64,
) -> Result<Vec<AdminEvent>, StoreError> {
    let mut select = admin_event::Entity::find().filter(admin_event::Column::RealmId.eq(realm_id.as_uuid()));
    if !q.operation_types.is_empty() {
        select = select.filter(admin_event::Column::OperationType.is_in(q.operation_types.clone()));
    }
    if !q.resource_types.is_empty() {
        select = select.filter(admin_event::Column::ResourceType.is_in(q.resource_types.clone()));
    }
    if let Some(prefix) = &q.resource_path {
        select = select.filter(admin_event::Column::ResourcePath.starts_with(prefix.clone()));
    }
    if let Some(user) = q.auth_user {
        select = select.filter(admin_event::Column::AuthUserId.eq(user.as_uuid()));
    }
    if let Some(from) = q.from {
        select = select.filter(admin_event::Column::Time.gte(from.as_millis()));
    }
    if let Some(to) = q.to {
        select = select.filter(admin_event::Column::Time.lte(to.as_millis()));
    }
    let rows = select
        .order_by_desc(admin_event::Column::Time)
        .order_by_desc(admin_event::Column::Id)
        .offset(first)
        .limit(max)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| AdminEvent {
            id: m.id,
            time: Timestamp::from_millis(m.time),
            realm_id: m.realm_id.into(),
            auth_realm_id: m.auth_realm_id.map(Into::into),
            auth_client_id: m.auth_client_id,
            auth_user_id: m.auth_user_id.map(Into::into),
            ip_address: m.ip_address,
            operation_type: m.operation_type,
            resource_type: m.resource_type,
            resource_path: m.resource_path,
            representation: m.representation,
            error: m.error,
        })
        .collect())
}

/// Removes a realm's events older than `before` (retention); returns how many.
pub async fn purge_before(db: &impl ConnectionTrait, realm_id: RealmId, before: Timestamp) -> Result<u64, StoreError> {
    let result = admin_event::Entity::delete_many()
        .filter(admin_event::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(admin_event::Column::Time.lt(before.as_millis()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
