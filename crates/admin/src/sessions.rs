//! The session endpoints of Keycloak's admin API: lists (realm-wide, per client, per user),
//! counts, and ending sessions (one, a user's, all of a realm's) and pushing revocation.

use std::time::Duration;

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use latchkey_domain::{AdminRole, SessionEnd, SessionType, Timestamp};
use latchkey_lifecycle::Lifecycle;
use latchkey_store::listing::{self, SessionFilter};
use latchkey_store::sessions;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::authenticate;
use crate::clients::find_client;
use crate::error::{ApiError, ErrorBody};
use crate::query::Query;
use crate::repr::{ClientSessionStats, Count, GlobalRequestResult, SessionRepresentation, UserSessionRepresentation};
use crate::users::find_user;

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

/// Every live session of the realm, newest activity first.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), SessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<SessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/ui-ext/sessions")]
pub async fn list_realm_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    query: Query<SessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &realm, AdminRole::ViewRealm).await?;
    let (first, max) = Paging { first: query.first, max: query.max }.resolve(10)?;
    let filter = SessionFilter {
        session_type: query.kind.and_then(SessionKind::filter),
        search: search(query.search.as_ref())?,
        ..Default::default()
    };
    let now = Timestamp::now();
    let rows = listing::list(life.store.conn(), &realm, &filter, first, max, now).await?;
    let total = listing::count(life.store.conn(), &realm, &filter, now).await?;
    Ok(listed(rows.iter().map(SessionRepresentation::from).collect(), total))
}

/// The live sessions of one client, newest use by that client first.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ClientSessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<SessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/ui-ext/sessions/client")]
pub async fn list_client_sessions_ui(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    query: Query<ClientSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &realm, AdminRole::ViewClients).await?;
    let client = find_client(&life, &realm, &query.client_id).await?;
    let (first, max) = Paging { first: query.first, max: query.max }.resolve(10)?;
    let filter = SessionFilter {
        session_type: query.kind.and_then(SessionKind::filter),
        search: search(query.search.as_ref())?,
        client: Some(client.id),
        ..Default::default()
    };
    let now = Timestamp::now();
    let rows = listing::list(life.store.conn(), &realm, &filter, first, max, now).await?;
    let total = listing::count(life.store.conn(), &realm, &filter, now).await?;
    Ok(listed(rows.iter().map(SessionRepresentation::from).collect(), total))
}

/// Per client with at least one live session: its regular and offline session counts.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo")),
    responses(
        (status = 200, description = "Counts, as strings (as Keycloak sends them)", body = Vec<ClientSessionStats>),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/client-session-stats")]
pub async fn client_session_stats(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &realm, AdminRole::ViewRealm).await?;
    let stats = listing::client_stats(life.store.conn(), &realm, Timestamp::now()).await?;
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
    life: &Lifecycle,
    req: &HttpRequest,
    realm: &str,
    id: &str,
    paging: &Paging,
    kind: SessionType,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(life, req).await?;
    let realm = admin.realm(life, realm, AdminRole::ViewClients).await?;
    let client = find_client(life, &realm, id).await?;
    let (first, max) = paging.resolve(100)?;
    let filter = SessionFilter { session_type: Some(kind), client: Some(client.id), ..Default::default() };
    let now = Timestamp::now();
    let rows = listing::list(life.store.conn(), &realm, &filter, first, max, now).await?;
    let total = listing::count(life.store.conn(), &realm, &filter, now).await?;
    let offline = kind == SessionType::Offline;
    Ok(listed(rows.iter().map(|r| UserSessionRepresentation::from_listed(r, offline)).collect(), total))
}

/// The client's regular (online) sessions.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b"), Paging),
    responses(
        (status = 200, description = "One page; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/user-sessions")]
pub async fn list_client_user_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    paging: Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    client_sessions(&life, &req, &path.0, &path.1, &paging, SessionType::Regular).await
}

/// The client's offline sessions; `lastAccess` is that client's own last use.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b"), Paging),
    responses(
        (status = 200, description = "One page; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/offline-sessions")]
pub async fn list_client_offline_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    paging: Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    client_sessions(&life, &req, &path.0, &path.1, &paging, SessionType::Offline).await
}

async fn client_count(
    life: &Lifecycle,
    req: &HttpRequest,
    realm: &str,
    id: &str,
    kind: SessionType,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(life, req).await?;
    let realm = admin.realm(life, realm, AdminRole::ViewClients).await?;
    let client = find_client(life, &realm, id).await?;
    let filter = SessionFilter { session_type: Some(kind), client: Some(client.id), ..Default::default() };
    let count = listing::count(life.store.conn(), &realm, &filter, Timestamp::now()).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

/// How many regular sessions the client has.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The count", body = Count),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/session-count")]
pub async fn count_client_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    client_count(&life, &req, &path.0, &path.1, SessionType::Regular).await
}

/// How many offline sessions the client has.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The count", body = Count),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/clients/{id}/offline-session-count")]
pub async fn count_client_offline_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    client_count(&life, &req, &path.0, &path.1, SessionType::Offline).await
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
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2"), UserSessionQuery),
    responses(
        (status = 200, description = "One page of sessions; the total is in X-Total-Count",
            body = Vec<UserSessionRepresentation>, headers(("X-Total-Count" = u64, description = "Sessions matching, on every page"))),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/users/{id}/sessions")]
pub async fn list_user_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query<UserSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &path.0, AdminRole::ViewUsers).await?;
    let user = find_user(&life, &realm, &path.1).await?;
    let kind = query.kind.unwrap_or(SessionKind::Regular).filter();
    let (first, max) = Paging { first: query.first, max: query.max }.resolve(MAX_PAGE)?;
    let filter = SessionFilter { session_type: kind, user: Some(user.id), ..Default::default() };
    let now = Timestamp::now();
    let rows = listing::list(life.store.conn(), &realm, &filter, first, max, now).await?;
    let total = listing::count(life.store.conn(), &realm, &filter, now).await?;
    Ok(listed(rows.iter().map(|r| UserSessionRepresentation::from_listed(r, false)).collect(), total))
}

/// The user's offline sessions that hold this client.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2"), ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The sessions", body = Vec<UserSessionRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such realm, user or client", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}/users/{id}/offline-sessions/{clientUuid}")]
pub async fn list_user_offline_sessions(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &path.0, AdminRole::ViewUsers).await?;
    let user = find_user(&life, &realm, &path.1).await?;
    let client = find_client(&life, &realm, &path.2).await?;
    let filter = SessionFilter {
        session_type: Some(SessionType::Offline),
        user: Some(user.id),
        client: Some(client.id),
        ..Default::default()
    };
    let rows = listing::list(life.store.conn(), &realm, &filter, 0, MAX_PAGE as u64, Timestamp::now()).await?;
    Ok(HttpResponse::Ok()
        .json(rows.iter().map(|r| UserSessionRepresentation::from_listed(r, true)).collect::<Vec<_>>()))
}

/// Ends all of the user's sessions (its clients are told) and sets its not-before to now.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/users/{id}/logout")]
pub async fn logout_user(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &path.0, AdminRole::ManageUsers).await?;
    let user = crate::users::find_user_to_change(&life, &admin, &realm, &path.1).await?;
    life.end_user_sessions(&realm, &user, SessionEnd::UserLogout, true).await?;
    audit::record(&life, &admin, &realm, "ACTION", "USER", format!("users/{}/logout", user.id), None).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteSessionQuery {
    /// Which kind of session the id names, as in Keycloak: `true` looks among offline sessions,
    /// `false` among regular ones (a session of the other kind is not found); absent, either.
    /// `true` or `false`, in any case.
    #[serde(rename = "isOffline", default, deserialize_with = "crate::query::flag")]
    #[param(rename = "isOffline", value_type = Option<bool>, example = false)]
    is_offline: Option<bool>,
}

/// Ends one session; its clients are told.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Session id", example = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), DeleteSessionQuery),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such realm or live session", body = ErrorBody),
    )
)]
#[delete("/admin/realms/{realm}/sessions/{id}")]
pub async fn delete_session(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query<DeleteSessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &path.0, AdminRole::ManageUsers).await?;
    let not_found = || ApiError::NotFound("Session not found".into());
    let id = crate::input::uuid(&path.1).ok_or_else(not_found)?;
    let session = sessions::find_user_session(life.store.conn(), id)
        .await?
        .filter(|s| s.realm_id == realm.id)
        .filter(|s| query.is_offline.is_none_or(|offline| offline == (s.session_type == SessionType::Offline)))
        .ok_or_else(not_found)?;
    let reason =
        if session.session_type == SessionType::Offline { SessionEnd::Revoked } else { SessionEnd::AdminSignOut };
    let ended = life.end_sessions_by(&realm, &[session.id], reason, Some(&admin.actor())).await?;
    if ended.is_empty() {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Signs out every session of the realm; answers which applications were told.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo")),
    responses(
        (status = 200, description = "Every session is dead; what was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/logout-all")]
pub async fn logout_all(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &realm, AdminRole::ManageUsers).await?;
    let result = life.logout_all(&realm, SETTLE).await?;
    audit::record(&life, &admin, &realm, "ACTION", "REALM", "logout-all".into(), None).await;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}

/// Pushes the realm's not-before to every client with an admin URL.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo")),
    responses(
        (status = 200, description = "What was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-realm", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/push-revocation")]
pub async fn push_realm_revocation(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &realm, AdminRole::ManageRealm).await?;
    let result = life.push_revocation(&realm, None, SETTLE).await?;
    audit::record(&life, &admin, &realm, "ACTION", "REALM", "push-revocation".into(), None).await;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}

/// Pushes the client's not-before to its admin URL.
#[utoipa::path(
    tag = "sessions",
    params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses(
        (status = 200, description = "What was notified", body = GlobalRequestResult),
        (status = 403, description = "Not allowed: needs manage-clients", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
    )
)]
#[post("/admin/realms/{realm}/clients/{id}/push-revocation")]
pub async fn push_client_revocation(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&life, &req).await?;
    let realm = admin.realm(&life, &path.0, AdminRole::ManageClients).await?;
    let client = find_client(&life, &realm, &path.1).await?;
    let result = life.push_revocation(&realm, Some(&client), SETTLE).await?;
    audit::record(&life, &admin, &realm, "ACTION", "CLIENT", format!("clients/{}/push-revocation", client.id), None)
        .await;
    Ok(HttpResponse::Ok().json(GlobalRequestResult::from(result)))
}
