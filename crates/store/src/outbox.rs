//! The outbox: notifications to clients, written in the same transaction as the session
//! change that causes them, then claimed and delivered by workers.
//!
//! A claim is a lease: `claimed_by` / `claimed_until` are set on due rows in one statement —
//! on PostgreSQL over `FOR UPDATE SKIP LOCKED`, so two nodes never take the same row; on
//! SQLite (one writer at a time) the same statement without it. A node that dies mid-delivery
//! loses its lease when it runs out and the row is delivered by whoever claims it next: nothing
//! is lost, and a receiver may at worst see the same `jti` again after such a crash.

use latchkey_domain::{ClientId, RealmId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};
use uuid::Uuid;

use crate::entity::outbox;
use crate::StoreError;

pub use crate::entity::outbox::Delivery;

/// A notification to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub realm_id: RealmId,
    pub client_id: ClientId,
    pub kind: String,
    pub url: String,
    /// JSON, interpreted by the worker of `kind`.
    pub payload: String,
    pub request_group: Option<Uuid>,
    pub status: Delivery,
    pub deadline: Timestamp,
}

pub type Message = outbox::Model;

pub async fn insert_many(db: &impl ConnectionTrait, messages: &[NewMessage], now: Timestamp) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows = messages.iter().map(|m| outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        realm_id: Set(m.realm_id.into()),
        client_id: Set(m.client_id.into()),
        kind: Set(m.kind.clone()),
        url: Set(m.url.clone()),
        payload: Set(m.payload.clone()),
        request_group: Set(m.request_group),
        status: Set(m.status),
        attempts: Set(0),
        next_attempt_at: Set(now.as_millis()),
        deadline_at: Set(m.deadline.as_millis()),
        claimed_by: Set(None),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(now.as_millis()),
        delivered_at: Set(None),
    });
    for chunk in rows.collect::<Vec<_>>().chunks(500) {
        outbox::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

/// Claims up to `limit` due messages for `node` until `lease_until`, counting an attempt on each.
pub async fn claim(
    db: &impl ConnectionTrait,
    node: &str,
    limit: u64,
    lease_until: Timestamp,
    now: Timestamp,
) -> Result<Vec<Message>, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            // The locking subquery as a CTE, which PostgreSQL runs exactly once whatever the
            // plan around it (and see `plan_cache_mode` in `db`: a million messages arrive
            // within seconds of a logout-all, long before the table is analyzed).
            "WITH due AS (SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= $3 \
             AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY next_attempt_at LIMIT $4 \
             FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = outbox.attempts + 1 \
             FROM due WHERE outbox.id = due.id RETURNING outbox.*"
        }
        _ => {
            "UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt_at LIMIT ?) RETURNING *"
        }
    };
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => {
            vec![node.into(), lease_until.as_millis().into(), now.as_millis().into(), (limit as i64).into()]
        }
        _ => vec![
            node.into(),
            lease_until.as_millis().into(),
            now.as_millis().into(),
            now.as_millis().into(),
            (limit as i64).into(),
        ],
    };
    let rows =
        outbox::Entity::find().from_raw_sql(Statement::from_sql_and_values(backend, sql, values)).all(db).await?;
    Ok(rows)
}

/// Records the deliveries of a round in one statement (one write, not one per message: on
/// SQLite every write waits its turn for the one writer), where `node` still holds the claim.
pub async fn delivered_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    node: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(Delivery::Delivered.to_value()))
        .col_expr(outbox::Column::DeliveredAt, Expr::value(now.as_millis()))
        .col_expr(outbox::Column::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .filter(outbox::Column::ClaimedBy.eq(node))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up (`None`).
pub async fn attempt_failed(
    db: &impl ConnectionTrait,
    id: Uuid,
    node: &str,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    let error: String = error.chars().take(1000).collect();
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .col_expr(outbox::Column::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::ClaimedUntil, Expr::value(Option::<i64>::None));
    update = match retry_at {
        Some(at) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at.as_millis())),
        None => update.col_expr(outbox::Column::Status, Expr::value(Delivery::Failed.to_value())),
    };
    update.filter(outbox::Column::Id.eq(id)).filter(outbox::Column::ClaimedBy.eq(node)).exec(db).await?;
    Ok(())
}

/// Every message of a request group (one logout-all or push-revocation).
pub async fn group(db: &impl ConnectionTrait, group: Uuid) -> Result<Vec<Message>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::RequestGroup.eq(group))
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await?)
}

/// The messages to one client, oldest first (the delivery log).
pub async fn for_client(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    limit: u64,
) -> Result<Vec<Message>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ClientId.eq(client_id.as_uuid()))
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// How many messages still wait for delivery (the notifier's backlog).
pub async fn backlog(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find().filter(outbox::Column::Status.eq(Delivery::Pending)).count(db).await?)
}
