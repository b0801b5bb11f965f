//! Session jobs: ending work too large for a request, done by the reaper in batches.

use latchkey_domain::{ClientId, RealmId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::session_job;
use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// End every session of the realm that started at or before `cutoff` (logout-all).
    RealmLogout,
    /// End every client session of `client_id` (the client was disabled).
    ClientSessions,
    /// Move the expiry of every active session of the realm that started up to `cutoff`, and
    /// its counts, to the realm's limits as they are now (they changed).
    RealmLimits,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::RealmLogout => "REALM_LOGOUT",
            JobKind::ClientSessions => "CLIENT_SESSIONS",
            JobKind::RealmLimits => "REALM_LIMITS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: Uuid,
    pub realm_id: RealmId,
    pub kind: JobKind,
    pub client_id: Option<ClientId>,
    pub cutoff: Timestamp,
    pub request_group: Option<Uuid>,
    pub done_at: Option<Timestamp>,
}

fn from_row(m: session_job::Model) -> Result<Job, StoreError> {
    let kind = match m.kind.as_str() {
        "REALM_LOGOUT" => JobKind::RealmLogout,
        "CLIENT_SESSIONS" => JobKind::ClientSessions,
        "REALM_LIMITS" => JobKind::RealmLimits,
        other => return Err(StoreError::Corrupt(format!("session job kind '{other}'"))),
    };
    Ok(Job {
        id: m.id,
        realm_id: m.realm_id.into(),
        kind,
        client_id: m.client_id.map(Into::into),
        cutoff: Timestamp::from_millis(m.cutoff),
        request_group: m.request_group,
        done_at: m.done_at.map(Timestamp::from_millis),
    })
}

pub async fn insert(db: &impl ConnectionTrait, job: &Job, now: Timestamp) -> Result<(), StoreError> {
    let row = session_job::ActiveModel {
        id: Set(job.id),
        realm_id: Set(job.realm_id.into()),
        kind: Set(job.kind.as_str().to_owned()),
        client_id: Set(job.client_id.map(Into::into)),
        cutoff: Set(job.cutoff.as_millis()),
        request_group: Set(job.request_group),
        created_at: Set(now.as_millis()),
        done_at: Set(None),
    };
    session_job::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// Jobs not yet done, oldest first.
pub async fn pending(db: &impl ConnectionTrait) -> Result<Vec<Job>, StoreError> {
    let rows = session_job::Entity::find()
        .filter(session_job::Column::DoneAt.is_null())
        .order_by_asc(session_job::Column::CreatedAt)
        .all(db)
        .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Job>, StoreError> {
    session_job::Entity::find_by_id(id).one(db).await?.map(from_row).transpose()
}

pub async fn finish(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
    session_job::Entity::update_many()
        .col_expr(session_job::Column::DoneAt, Expr::value(now.as_millis()))
        .filter(session_job::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Queues the move of a realm's sessions to its new limits: every active session that started
/// up to a minute from `now` (one signing in while the change commits read the limits before
/// it), in batches by the reaper. A move still pending for the realm is superseded: the new one
/// applies the limits as they are then, to every session.
pub async fn limits_changed(db: &impl ConnectionTrait, realm_id: RealmId, now: Timestamp) -> Result<(), StoreError> {
    session_job::Entity::update_many()
        .col_expr(session_job::Column::DoneAt, Expr::value(now.as_millis()))
        .filter(session_job::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(session_job::Column::Kind.eq(JobKind::RealmLimits.as_str()))
        .filter(session_job::Column::DoneAt.is_null())
        .exec(db)
        .await?;
    let job = Job {
        id: Uuid::new_v4(),
        realm_id,
        kind: JobKind::RealmLimits,
        client_id: None,
        cutoff: now.plus_secs(60),
        request_group: None,
        done_at: None,
    };
    insert(db, &job, now).await
}
