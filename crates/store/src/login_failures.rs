//! Failed sign-ins per realm and subject (a user, an address, or both), for throttling.
//!
//! An attempt is counted *before* the password is checked, with a compare-and-set on the
//! counter, so parallel guesses cannot all pass a limit that each would see as not reached.

use latchkey_domain::{RealmId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::login_failure;
use crate::StoreError;

/// Failures so far and when the last one happened.
pub async fn get(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    subject: &str,
) -> Result<Option<(u32, Timestamp)>, StoreError> {
    let row = login_failure::Entity::find_by_id((realm_id.as_uuid(), subject.to_owned())).one(db).await?;
    Ok(row.map(|r| (r.failures.max(0) as u32, Timestamp::from_millis(r.last_failure_at))))
}

/// Counts an attempt unless `wait` says the subject must wait: `wait(failures, last)` gets the
/// failures still inside the window (0 when the last one is older than `window_start`) and
/// answers the seconds left to wait, if any. Returns `Err(seconds)` when refused; the attempt
/// is then not counted. Atomic against concurrent attempts on the same subject.
pub async fn attempt(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    subject: &str,
    now: Timestamp,
    window_start: Timestamp,
    wait: impl Fn(u32, Timestamp) -> Option<i64>,
) -> Result<Result<(), i64>, StoreError> {
    loop {
        let Some((failures, last)) = get(db, realm_id, subject).await? else {
            let row = login_failure::ActiveModel {
                realm_id: Set(realm_id.into()),
                subject: Set(subject.to_owned()),
                failures: Set(1),
                last_failure_at: Set(now.as_millis()),
            };
            let key = OnConflict::columns([login_failure::Column::RealmId, login_failure::Column::Subject])
                .do_nothing()
                .to_owned();
            let inserted = login_failure::Entity::insert(row).on_conflict(key).exec_without_returning(db).await?;
            if inserted == 1 {
                return Ok(Ok(()));
            }
            continue;
        };
        let current = if last < window_start { 0 } else { failures };
        if let Some(seconds) = wait(current, last) {
            return Ok(Err(seconds));
        }
        let swapped = login_failure::Entity::update_many()
            .col_expr(login_failure::Column::Failures, Expr::value(i64::from(current) + 1))
            .col_expr(login_failure::Column::LastFailureAt, Expr::value(now.as_millis()))
            .filter(login_failure::Column::RealmId.eq(realm_id.as_uuid()))
            .filter(login_failure::Column::Subject.eq(subject))
            .filter(login_failure::Column::Failures.eq(i64::from(failures)))
            .filter(login_failure::Column::LastFailureAt.eq(last.as_millis()))
            .exec(db)
            .await?
            .rows_affected;
        if swapped == 1 {
            return Ok(Ok(()));
        }
    }
}

/// Takes back one counted attempt (it turned out to be a success).
pub async fn uncount(db: &impl ConnectionTrait, realm_id: RealmId, subject: &str) -> Result<(), StoreError> {
    login_failure::Entity::update_many()
        .col_expr(login_failure::Column::Failures, Expr::col(login_failure::Column::Failures).sub(1))
        .filter(login_failure::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(login_failure::Column::Subject.eq(subject))
        .filter(login_failure::Column::Failures.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets a subject's failures (after a successful sign-in).
pub async fn clear(db: &impl ConnectionTrait, realm_id: RealmId, subject: &str) -> Result<(), StoreError> {
    login_failure::Entity::delete_by_id((realm_id.as_uuid(), subject.to_owned())).exec(db).await?;
    Ok(())
}

/// Removes counters whose last failure is older than `before` (outside every window), so
/// guessed usernames do not stay in the table; returns how many.
pub async fn purge_before(db: &impl ConnectionTrait, before: Timestamp) -> Result<u64, StoreError> {
    let result = login_failure::Entity::delete_many()
        .filter(login_failure::Column::LastFailureAt.lt(before.as_millis()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// How many counters are kept, every realm and subject together.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(login_failure::Entity::find().count(db).await?)
}
