//! Failed sign-ins per realm and subject (a user or an address), for throttling.

use latchkey_domain::Timestamp;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::entity::login_failure;
use crate::StoreError;

/// Failures so far and when the last one happened.
pub async fn get(
    db: &impl ConnectionTrait,
    realm_id: Uuid,
    subject: &str,
) -> Result<Option<(u32, Timestamp)>, StoreError> {
    let row = login_failure::Entity::find_by_id((realm_id, subject.to_owned())).one(db).await?;
    Ok(row.map(|r| (r.failures.max(0) as u32, Timestamp::from_millis(r.last_failure_at))))
}

/// Counts one more failure, atomically, and returns the new count.
pub async fn record(
    db: &impl ConnectionTrait,
    realm_id: Uuid,
    subject: &str,
    now: Timestamp,
) -> Result<u32, StoreError> {
    let row = login_failure::ActiveModel {
        realm_id: Set(realm_id),
        subject: Set(subject.to_owned()),
        failures: Set(1),
        last_failure_at: Set(now.as_millis()),
    };
    let on_conflict = OnConflict::columns([login_failure::Column::RealmId, login_failure::Column::Subject])
        .value(
            login_failure::Column::Failures,
            Expr::col((login_failure::Entity, login_failure::Column::Failures)).add(1),
        )
        .value(login_failure::Column::LastFailureAt, now.as_millis())
        .to_owned();
    login_failure::Entity::insert(row).on_conflict(on_conflict).exec(db).await?;
    Ok(get(db, realm_id, subject).await?.map_or(1, |(n, _)| n))
}

/// Forgets a subject's failures (after a successful sign-in).
pub async fn clear(db: &impl ConnectionTrait, realm_id: Uuid, subject: &str) -> Result<(), StoreError> {
    login_failure::Entity::delete_by_id((realm_id, subject.to_owned())).exec(db).await?;
    Ok(())
}
