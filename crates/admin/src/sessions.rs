//! The session endpoints of Keycloak's admin API: lists (realm-wide, per client, per user),
//! counts, and ending sessions (one, a user's, all of a realm's) and pushing revocation.

use std::time::Duration;

use actix_web::{delete, get, post, HttpResponse};
use latchkey_domain::{SessionEnd, SessionId, SessionType, Timestamp, Which};
use latchkey_lifecycle::audit::{Operation, Resource};
use latchkey_store::listing::{self, ListedSession, SessionFilter};
use latchkey_store::sessions;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::authorized::{InRealm, ManageClients, ManageRealm, ManageUsers, Role, ViewClients, ViewRealm, ViewUsers};
use crate::error::{ApiError, ErrorBody};
use crate::query::Query;
use crate::repr::{ClientSessionStats, Count, GlobalRequestResult, SessionRepresentation, UserSessionRepresentation};

/// The most rows one page may ask for.
pub const MAX_PAGE: i64 = 1000;
/// How long logout-all and push-revocation wait for deliveries before answering.
const SETTLE: Duration = Duration::from_secs(10);

/// Paging, as Keycloak's `first` and `max`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

/// Validates Keycloak's `first` / `max`: negative is a 400, `max` is capped at [`MAX_PAGE`].
pub(crate) fn page(first: Option<i64>, max: Option<i64>, default_max: i64) -> Result<(u64, u64), ApiError> {
    Paging { first, max }.resolve(default_max)
}

impl Paging {
    fn resolve(&self, default_max: i64) -> Result<(u64, u64), ApiError> {
        let first = self.first.unwrap_or(0);
        let max = self.max.unwrap_or(default_max);
        if first < 0 {
            return Err(ApiError::BadRequest("first: must not be negative".into()));
        }
        if max < 0 {
            return Err(ApiError::BadRequest("max: must not be negative".into()));
        }
        Ok((first as u64, max.min(MAX_PAGE) as u64))
    }
}

/// Which sessions a list holds, spelled as Keycloak's `SessionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionKind {
    All,
    Regular,
    Offline,
}

impl SessionKind {
    fn filter(self) -> Option<SessionType> {
        match self {
            SessionKind::All => None,
            SessionKind::Regular => Some(SessionType::Regular),
            SessionKind::Offline => Some(SessionType::Offline),
        }
    }
}

/// Filters of the `ui-ext` session lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// `ALL` (default), `REGULAR` or `OFFLINE`.
    #[serde(rename = "type")]
    #[param(rename = "type", inline, example = "REGULAR")]
    kind: Option<SessionKind>,
    /// Matches usernames and clientIds containing it and IP addresses starting with it, in any
    /// case (surrounding spaces ignored).
    #[param(max_length = 255, example = "alice")]
    search: Option<String>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientSessionQuery {
    /// The client's UUID.
    #[serde(rename = "clientId")]
    #[param(rename = "clientId", format = Uuid)]
    client_id: String,
    /// `ALL` (default), `REGULAR` or `OFFLINE`.
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    kind: Option<SessionKind>,
    /// As in `ui-ext/sessions`.
    #[param(max_length = 255)]
    search: Option<String>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

/// The search text: at most 255 characters; blank means no search.
fn search(raw: Option<&String>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(s) if s.chars().count() > 255 => Err(ApiError::BadRequest("search: longer than 255 characters".into())),
        other => Ok(other.map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)),
    }
}

/// A list with its total in `X-Total-Count` (Keycloak's body stays exactly Keycloak's).
fn listed<T: serde::Serialize>(rows: Vec<T>, total: u64) -> HttpResponse {
    HttpResponse::Ok().insert_header(("X-Total-Count", total.to_string())).json(rows)
}

/// One page of the realm's sessions `filter` matches, shaped by `shape`, with the total.
async fn page_of<R: Role, T: serde::Serialize>(
    at: &InRealm<R>,
    filter: &SessionFilter,
    (first, max): (u64, u64),
    shape: impl Fn(&ListedSession) -> T,
) -> Result<HttpResponse, ApiError> {
    let snapshot = at.life.store.snapshot().await?;
    let (rows, total) = listing::page(&snapshot, &at.realm, filter, first, max, Timestamp::now()).await?;
    Ok(listed(rows.iter().map(shape).collect(), total))
}

/// Every live session of the realm, newest activity first.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm, SessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<SessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/ui-ext/sessions")]
pub async fn list_realm_sessions(at: InRealm<ViewRealm>, query: Query<SessionQuery>) -> Result<HttpResponse, ApiError> {
    let paging = Paging { first: query.first, max: query.max }.resolve(10)?;
    let filter = SessionFilter {
        session_type: query.kind.and_then(SessionKind::filter),
        search: search(query.search.as_ref())?,
        ..Default::default()
    };
    page_of(&at, &filter, paging, |r| SessionRepresentation::from(r)).await
}

/// The live sessions of one client, newest use by that client first.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm, ClientSessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<SessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/ui-ext/sessions/client")]
pub async fn list_client_sessions_ui(
    at: InRealm<ViewClients>,
    query: Query<ClientSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = at.client_by(&query.client_id).await?;
    let paging = Paging { first: query.first, max: query.max }.resolve(10)?;
    let filter = SessionFilter {
        session_type: query.kind.and_then(SessionKind::filter),
        search: search(query.search.as_ref())?,
        client: Some(client.id),
        ..Default::default()
    };
    page_of(&at, &filter, paging, |r| SessionRepresentation::from(r)).await
}

/// Per client with at least one live session: its regular and offline session counts.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm),
    responses(
        (status = 200, description = "Counts, as strings (as Keycloak sends them)", body = Vec<ClientSessionStats>),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/client-session-stats")]
pub async fn client_session_stats(at: InRealm<ViewRealm>) -> Result<HttpResponse, ApiError> {
    let stats = listing::client_stats(&at.life.store.snapshot().await?, &at.realm, Timestamp::now()).await?;
    let body: Vec<ClientSessionStats> = stats
        .into_iter()
        .map(|(id, client_id, active, offline)| ClientSessionStats {
            id: id.to_string(),
            client_id,
            active: active.to_string(),
            offline: offline.to_string(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn client_sessions(
    at: InRealm<ViewClients>,
    paging: &Paging,
    kind: SessionType,
) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    let filter = SessionFilter { session_type: Some(kind), client: Some(client.id), ..Default::default() };
    let offline = kind == SessionType::Offline;
    page_of(&at, &filter, paging.resolve(100)?, |r| UserSessionRepresentation::from_listed(r, offline)).await
}

/// The client's regular (online) sessions.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::ClientIn, Paging),
    responses(
        (status = 200, description = "One page; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/user-sessions")]
pub async fn list_client_user_sessions(
    at: InRealm<ViewClients>,
    paging: Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    client_sessions(at, &paging, SessionType::Regular).await
}

/// The client's offline sessions; `lastAccess` is that client's own last use.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::ClientIn, Paging),
    responses(
        (status = 200, description = "One page; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/offline-sessions")]
pub async fn list_client_offline_sessions(
    at: InRealm<ViewClients>,
    paging: Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    client_sessions(at, &paging, SessionType::Offline).await
}

async fn client_count(at: InRealm<ViewClients>, kind: SessionType) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    let filter = SessionFilter { session_type: Some(kind), client: Some(client.id), ..Default::default() };
    let count = listing::count(&at.life.store.snapshot().await?, &at.realm, &filter, Timestamp::now()).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

/// How many regular sessions the client has.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::ClientIn),
    responses(
        (status = 200, description = "The count", body = Count),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/session-count")]
pub async fn count_client_sessions(at: InRealm<ViewClients>) -> Result<HttpResponse, ApiError> {
    client_count(at, SessionType::Regular).await
}

/// How many offline sessions the client has.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::ClientIn),
    responses(
        (status = 200, description = "The count", body = Count),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/offline-session-count")]
pub async fn count_client_offline_sessions(at: InRealm<ViewClients>) -> Result<HttpResponse, ApiError> {
    client_count(at, SessionType::Offline).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSessionQuery {
    /// `REGULAR` (default, as Keycloak), `OFFLINE` or `ALL`: this user's offline sessions too.
    #[serde(rename = "type")]
    #[param(rename = "type", inline, example = "ALL")]
    kind: Option<SessionKind>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

/// The user's sessions: regular ones as in Keycloak, offline ones too with `type=ALL|OFFLINE`.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::UserIn, UserSessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/users/{id}/sessions")]
pub async fn list_user_sessions(
    at: InRealm<ViewUsers>,
    query: Query<UserSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    let kind = query.kind.unwrap_or(SessionKind::Regular).filter();
    let paging = Paging { first: query.first, max: query.max }.resolve(MAX_PAGE)?;
    let filter = SessionFilter { session_type: kind, user: Some(user.id), ..Default::default() };
    page_of(&at, &filter, paging, |r| UserSessionRepresentation::from_listed(r, false)).await
}

/// The user's offline sessions that hold this client.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The sessions", body = Vec<UserSessionRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such realm, user or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/users/{id}/offline-sessions/{clientUuid}")]
pub async fn list_user_offline_sessions(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    let client = at.client_by(at.path("clientUuid")).await?;
    let filter = SessionFilter {
        session_type: Some(SessionType::Offline),
        user: Some(user.id),
        client: Some(client.id),
        ..Default::default()
    };
    let rows = listing::list(at.conn(), &at.realm, &filter, 0, MAX_PAGE as u64, Timestamp::now()).await?;
    Ok(HttpResponse::Ok()
        .json(rows.iter().map(|r| UserSessionRepresentation::from_listed(r, true)).collect::<Vec<_>>()))
}

/// Ends all of the user's sessions (its clients are told) and sets its not-before to now.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::UserIn),
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/users/{id}/logout")]
pub async fn logout_user(at: InRealm<ManageUsers>) -> Result<HttpResponse, ApiError> {
    let user = at.user_to_change().await?;
    let action = at.action(Operation::Action, Resource::User, format!("users/{}/logout", user.id));
    at.life.end_user_sessions(&at.realm, &user, SessionEnd::UserLogout, true, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteSessionQuery {
    /// Which of the sessions known by the id is meant, as in Keycloak: an offline session has
    /// the id of the sign-in that started it, so `true` ends the offline one, `false` or absent
    /// the regular one (a session of the other kind is not found). `true` or `false`, in any
    /// case.
    #[serde(rename = "isOffline", default, deserialize_with = "crate::query::flag")]
    #[param(rename = "isOffline", value_type = Option<bool>, example = false)]
    is_offline: Option<bool>,
}

/// Ends one session; its clients are told.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm, ("id" = uuid::Uuid, Path, description = "Session id", example = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), DeleteSessionQuery),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = "Not allowed: needs manage-users, and every admin role the session's user holds", body = ErrorBody),
        (status = 404, description = "No such realm or live session", body = ErrorBody),
    )
)]
#[delete("/admin/realms/{realm}/sessions/{id}")]
pub async fn delete_session(
    at: InRealm<ManageUsers>,
    query: Query<DeleteSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound("Session not found".into());
    let id = crate::input::id::<SessionId>(at.path("id")).ok_or_else(not_found)?;
    // As in Keycloak: the id of a sign-in names its regular session and the offline session it
    // started; `isOffline=true` means the offline one, otherwise the regular one.
    let session = sessions::find_by_public_id(at.conn(), id, Which::from_is_offline(query.is_offline))
        .await?
        .filter(|s| s.realm_id == at.realm.id)
        .ok_or_else(not_found)?;
    // The rule of `users/{id}/logout`: a stronger administrator's session is not the caller's
    // to end.
    at.admin.require_at_least(&at.life.catalog.roles(at.conn(), session.user_id).await?)?;
    let reason =
        if session.session_type == SessionType::Offline { SessionEnd::Revoked } else { SessionEnd::AdminSignOut };
    let ended = at.life.end_sessions_by(&at.realm, &[session.id], reason, Some(&at.admin.actor())).await?;
    if ended.is_empty() {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Signs out every session of the realm; answers which applications were told.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm),
    responses(
        (status = 200, description = "Every session is dead; what was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/logout-all")]
pub async fn logout_all(at: InRealm<ManageUsers>) -> Result<HttpResponse, ApiError> {
    let action = at.action(Operation::Action, Resource::Realm, "logout-all".into());
    let result = at.life.logout_all(&at.realm, SETTLE, Some(&action)).await?;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}

/// Pushes the realm's not-before to every client with an admin URL.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::InRealm),
    responses(
        (status = 200, description = "What was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-realm", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/push-revocation")]
pub async fn push_realm_revocation(at: InRealm<ManageRealm>) -> Result<HttpResponse, ApiError> {
    let action = at.action(Operation::Action, Resource::Realm, "push-revocation".into());
    let result = at.life.push_revocation(&at.realm, None, SETTLE, Some(&action)).await?;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}

/// Pushes the client's not-before to its admin URL.
#[utoipa::path(
    tag = "sessions",
    params(crate::contract::path::ClientIn),
    responses(
        (status = 200, description = "What was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/clients/{id}/push-revocation")]
pub async fn push_client_revocation(at: InRealm<ManageClients>) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    let action = at.action(Operation::Action, Resource::Client, format!("clients/{}/push-revocation", client.id));
    let result = at.life.push_revocation(&at.realm, Some(&client), SETTLE, Some(&action)).await?;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}
