//! Realms.

use latchkey_domain::{Realm, RealmId, Timestamp};
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

pub async fn find_by_id(db: &impl ConnectionTrait, id: RealmId) -> Result<Option<Realm>, StoreError> {
    realm::Entity::find_by_id(id.as_uuid()).one(db).await?.map(realm_from).transpose()
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
pub async fn delete(db: &impl ConnectionTrait, id: RealmId) -> Result<bool, StoreError> {
    Ok(realm::Entity::delete_by_id(id.as_uuid()).exec(db).await?.rows_affected > 0)
}

/// Writes every field of a realm. Returns whether it existed. Moving its session cut-off or
/// not-before recounts its sessions (see [`crate::counts`]); new limits queue the move of its
/// sessions' expiries ([`crate::jobs::limits_changed`]).
pub async fn update(db: &impl ConnectionTrait, r: &Realm) -> Result<bool, StoreError> {
    let before = find_by_id(db, r.id).await?;
    let result = realm::Entity::update_many()
        .set(realm_row(r))
        .filter(realm::Column::Id.eq(r.id.as_uuid()))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("realm '{}'", r.name)))?;
    if let Some(before) = before {
        if before.session_cutoff != r.session_cutoff || before.not_before != r.not_before {
            crate::counts::recount(db, r.id).await?;
        }
        if before.limits != r.limits {
            crate::jobs::limits_changed(db, r.id, Timestamp::now()).await?;
        }
    }
    Ok(result.rows_affected == 1)
}

/// Writes the fields in which `after` differs from `before` and nothing else, so a request
/// racing another (a settings change racing logout-all) never puts back what it merely read.
/// The session cut-off is never written here: only [`cut_off_now`] moves it, and only forward.
pub async fn update_changed(db: &impl ConnectionTrait, before: &Realm, after: &Realm) -> Result<(), StoreError> {
    let (old, mut new) = (realm_row(before), realm_row(after));
    new.session_cutoff = old.session_cutoff.clone();
    let what = || format!("realm '{}'", after.name);
    crate::convert::update_changed(db, &old, &new, realm::Column::Id.eq(after.id.as_uuid()), what).await?;
    // A new not-before changes what is counted. New limits move every active session's
    // `expires_at`, and so its counts' minute: a job for the reaper, in batches — at ten million
    // sessions one statement here held the realm (and every sign-in) for minutes.
    if before.not_before != after.not_before {
        crate::counts::recount(db, after.id).await?;
    }
    if before.limits != after.limits {
        crate::jobs::limits_changed(db, after.id, Timestamp::now()).await?;
    }
    Ok(())
}

/// Logout-all's cut-off: moves the realm's session cut-off and not-before to the database's
/// clock — one clock for every node — never backwards, and answers them (epoch milliseconds,
/// epoch seconds). Every session started up to the cut-off is dead from then on.
pub async fn cut_off_now(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<(Timestamp, i64), StoreError> {
    use sea_orm::{DbBackend, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE realms SET \
               session_cutoff = GREATEST(session_cutoff, FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT), \
               not_before = GREATEST(not_before, FLOOR(EXTRACT(EPOCH FROM clock_timestamp()))::BIGINT) \
             WHERE id = $1 RETURNING session_cutoff, not_before"
        }
        _ => {
            "UPDATE realms SET \
               session_cutoff = MAX(session_cutoff, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)), \
               not_before = MAX(not_before, CAST((julianday('now') - 2440587.5) * 86400.0 AS INTEGER)) \
             WHERE id = ? RETURNING session_cutoff, not_before"
        }
    };
    let row = db
        .query_one(Statement::from_sql_and_values(backend, sql, [realm_id.as_uuid().into()]))
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("realm {realm_id} vanished during logout-all")))?;
    let cutoff: i64 = row.try_get("", "session_cutoff")?;
    let not_before: i64 = row.try_get("", "not_before")?;
    crate::counts::recount(db, realm_id).await?;
    Ok((Timestamp::from_millis(cutoff), not_before))
}
