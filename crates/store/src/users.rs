//! Users and their administrative role grants.

use latchkey_domain::user::normalize_username;
use latchkey_domain::{AdminRole, ClientId, RealmId, Timestamp, User, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::{user_from, user_row};
use crate::entity::{role_grant, user};
use crate::error::conflict_as;
use crate::StoreError;

pub async fn insert(db: &impl ConnectionTrait, u: &User) -> Result<(), StoreError> {
    user::Entity::insert(user_row(u)).exec(db).await.map_err(conflict_as(|| format!("user '{}'", u.username)))?;
    Ok(())
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id.as_uuid()).one(db).await?.map(user_from))
}

/// The user of `realm_id` with this email address (any case), if exactly one has it.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    email: &str,
) -> Result<Option<User>, StoreError> {
    use sea_orm::QuerySelect;
    let rows = user::Entity::find()
        .filter(user::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(user::Column::Email.eq(email.to_lowercase()))
        .limit(2)
        .all(db)
        .await?;
    Ok(if rows.len() == 1 { rows.into_iter().next().map(user_from) } else { None })
}

/// The service account of the client with this id (found by the link, never by a name).
pub async fn find_service_account(db: &impl ConnectionTrait, client: ClientId) -> Result<Option<User>, StoreError> {
    let row = user::Entity::find().filter(user::Column::ServiceAccountOf.eq(client.as_uuid())).one(db).await?;
    Ok(row.map(user_from))
}

/// The user of `realm_id` called `username`, in any case.
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    username: &str,
) -> Result<Option<User>, StoreError> {
    let Ok(username) = normalize_username(username) else {
        return Ok(None);
    };
    let row = user::Entity::find()
        .filter(user::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?;
    Ok(row.map(user_from))
}

/// Grants `role` to a user; granting a role the user already holds changes nothing.
pub async fn grant_role(
    db: &impl ConnectionTrait,
    user_id: UserId,
    role: AdminRole,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = role_grant::ActiveModel {
        user_id: Set(user_id.as_uuid()),
        role: Set(role.as_str().to_owned()),
        granted_at: Set(now.as_millis()),
    };
    let on_conflict = sea_orm::sea_query::OnConflict::columns([role_grant::Column::UserId, role_grant::Column::Role])
        .do_nothing()
        .to_owned();
    role_grant::Entity::insert(row).on_conflict(on_conflict).do_nothing().exec(db).await?;
    Ok(())
}

pub async fn roles_of(db: &impl ConnectionTrait, user_id: UserId) -> Result<Vec<AdminRole>, StoreError> {
    let rows = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id.as_uuid()))
        .order_by_asc(role_grant::Column::Role)
        .all(db)
        .await?;
    rows.into_iter().map(|r| r.role.parse().map_err(StoreError::from)).collect()
}

/// Whether a user of `realm_id` other than `except` would be confused with one called
/// `username` with `email` at sign-in (which accepts a username or an email): another user's
/// email equal to this username, or another user's username equal to this email.
pub async fn name_clash(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    username: &str,
    email: Option<&str>,
    except: UserId,
) -> Result<bool, StoreError> {
    use sea_orm::{Condition, PaginatorTrait};
    let mut either = Condition::any().add(user::Column::Email.eq(username));
    if let Some(email) = email {
        either = either.add(user::Column::Username.eq(email));
    }
    let found = user::Entity::find()
        .filter(user::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(user::Column::Id.ne(except.as_uuid()))
        .filter(either)
        .count(db)
        .await?;
    Ok(found > 0)
}

/// How many enabled users of `realm_id` other than `except` hold `role`.
pub async fn others_holding(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    role: AdminRole,
    except: UserId,
) -> Result<u64, StoreError> {
    use sea_orm::{PaginatorTrait, QuerySelect, QueryTrait};
    let holders = role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::Role.eq(role.as_str()))
        .filter(role_grant::Column::UserId.ne(except.as_uuid()))
        .into_query();
    Ok(user::Entity::find()
        .filter(user::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(user::Column::Enabled.eq(true))
        .filter(user::Column::Id.in_subquery(holders))
        .count(db)
        .await?)
}

/// Deletes a user and, by cascade, its sessions and grants. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, id: UserId) -> Result<bool, StoreError> {
    Ok(user::Entity::delete_by_id(id.as_uuid()).exec(db).await?.rows_affected == 1)
}

/// Writes every field of a user. Returns whether it existed.
pub async fn update(db: &impl ConnectionTrait, u: &User) -> Result<bool, StoreError> {
    let result = user::Entity::update_many()
        .set(user_row(u))
        .filter(user::Column::Id.eq(u.id.as_uuid()))
        .exec(db)
        .await
        .map_err(conflict_as(|| format!("user '{}'", u.username)))?;
    Ok(result.rows_affected == 1)
}

/// Writes the fields in which `after` differs from `before` and nothing else (see
/// [`crate::realms::update_changed`]): an update racing a disable never re-enables the user.
pub async fn update_changed(db: &impl ConnectionTrait, before: &User, after: &User) -> Result<(), StoreError> {
    let what = || format!("user '{}'", after.username);
    crate::convert::update_changed(
        db,
        &user_row(before),
        &user_row(after),
        user::Column::Id.eq(after.id.as_uuid()),
        what,
    )
    .await
}

/// Moves a user's not-before forward to `at` (epoch seconds); never backwards.
pub async fn raise_not_before(db: &impl ConnectionTrait, user_id: UserId, at: i64) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    user::Entity::update_many()
        .col_expr(user::Column::NotBefore, Expr::value(at))
        .filter(user::Column::Id.eq(user_id.as_uuid()))
        .filter(user::Column::NotBefore.lt(at))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes `role` from a user. Returns whether it was held.
pub async fn revoke_role(db: &impl ConnectionTrait, user_id: UserId, role: AdminRole) -> Result<bool, StoreError> {
    let result = role_grant::Entity::delete_by_id((user_id.as_uuid(), role.as_str().to_owned())).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// How to find users: `search` matches username, email, first or last name containing it (any
/// case); `username` matches the username, exactly or containing it.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub search: Option<String>,
    pub username: Option<String>,
    pub exact: bool,
    pub email: Option<String>,
}

fn user_condition(realm_id: RealmId, q: &UserQuery) -> sea_orm::Condition {
    use sea_orm::Condition;
    let like = |s: &str| format!("%{}%", s.to_lowercase().replace(['\\', '%', '_'], ""));
    let mut cond = Condition::all()
        .add(user::Column::RealmId.eq(realm_id.as_uuid()))
        .add(user::Column::ServiceAccountOf.is_null());
    if let Some(term) = q.search.as_deref().filter(|s| !s.is_empty() && *s != "*") {
        let pattern = like(term);
        cond = cond.add(
            Condition::any()
                .add(user::Column::Username.like(pattern.clone()))
                .add(user::Column::Email.like(pattern.clone()))
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(
                        user::Column::FirstName,
                    )))
                    .like(pattern.clone()),
                )
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(
                        user::Column::LastName,
                    )))
                    .like(pattern),
                ),
        );
    }
    if let Some(name) = q.username.as_deref().filter(|s| !s.is_empty()) {
        cond = if q.exact {
            cond.add(user::Column::Username.eq(name.to_lowercase()))
        } else {
            cond.add(user::Column::Username.like(like(name)))
        };
    }
    if let Some(email) = q.email.as_deref().filter(|s| !s.is_empty()) {
        cond = if q.exact {
            cond.add(user::Column::Email.eq(email.to_lowercase()))
        } else {
            cond.add(user::Column::Email.like(like(email)))
        };
    }
    cond
}

/// A page of a realm's users (service accounts aside), by username.
pub async fn search(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    q: &UserQuery,
    first: u64,
    max: u64,
) -> Result<Vec<User>, StoreError> {
    use sea_orm::QuerySelect;
    let rows = user::Entity::find()
        .filter(user_condition(realm_id, q))
        .order_by_asc(user::Column::Username)
        .offset(first)
        .limit(max)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(user_from).collect())
}

pub async fn count(db: &impl ConnectionTrait, realm_id: RealmId, q: &UserQuery) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(user::Entity::find().filter(user_condition(realm_id, q)).count(db).await?)
}
