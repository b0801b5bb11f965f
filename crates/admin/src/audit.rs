//! The audit trail of administration, readable with filters and paging. Every admin write is
//! recorded as an admin event in its own transaction ([`latchkey_lifecycle::audit`]; session
//! endings by the ending step itself). Writes
//! that are refused — a role missing, bad input, a conflict — are recorded too, with their error,
//! by [`record_refusals`] when the caller holds an admin role in that realm; the refusals of
//! anyone else (no valid token, or a signed-in person with no admin role) are only counted.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{get, web, HttpRequest, HttpResponse};
use latchkey_domain::Timestamp;
use latchkey_lifecycle::audit::{AdminAction, Operation, Resource};
use latchkey_lifecycle::Lifecycle;
use latchkey_store::events::{self, AdminEvent, EventQuery};
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use crate::auth::authenticate;
use crate::authorized::{InRealm, ViewRealm};
use crate::error::{ApiError, ErrorBody};
use crate::query::Query;

/// What an admin write is, from its method and path: (realm name, operation, resource type,
/// resource path). `None` for reads and for paths outside the admin API.
fn classify(method: &Method, path: &str) -> Option<(String, Operation, Resource, String)> {
    let rest = path.trim_end_matches('/').strip_prefix("/admin/realms")?;
    let (realm, resource) = match rest.strip_prefix('/') {
        None if rest.is_empty() => ("master".to_owned(), String::new()),
        None => return None,
        Some(rest) => match rest.split_once('/') {
            Some((realm, resource)) => (realm.to_owned(), resource.to_owned()),
            None => (rest.to_owned(), String::new()),
        },
    };
    let collection = resource.is_empty() || resource == "users" || resource == "clients";
    let operation = match *method {
        Method::POST if rest.is_empty() || (collection && !resource.is_empty()) => Operation::Create,
        Method::POST => Operation::Action,
        Method::PUT => Operation::Update,
        Method::DELETE => Operation::Delete,
        _ => return None,
    };
    let resource_type = match resource.split('/').next().unwrap_or("") {
        "users" => Resource::User,
        "clients" => Resource::Client,
        "sessions" => Resource::UserSession,
        _ => Resource::Realm,
    };
    Some((realm, operation, resource_type, resource))
}

/// Middleware: an admin write answered with an error is recorded as an admin event of the
/// realm it aimed at (when that realm exists), naming the caller, and the error. Refusals of
/// callers without a valid token are counted, not stored one by one. The answer is unchanged.
pub async fn record_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The request is not cloned before the call: actix needs it unshared while it is routed.
    let write = classify(req.method(), req.match_info().as_str());
    let answer = next.call(req).await?;
    let status = answer.status();
    if let (Some((realm, operation, resource, path)), true) = (write, status.as_u16() >= 400) {
        let error = match answer.response().error() {
            Some(e) => format!("{}: {e}", status.as_u16()),
            None => status.to_string(),
        };
        let request = answer.request();
        if let Some(life) = request.app_data::<web::Data<Lifecycle>>() {
            record_refusal(life, request, &realm, operation, resource, path, error).await;
        }
    }
    Ok(answer)
}

/// The longest resource path and error a refusal keeps, in characters.
const MAX_PATH: usize = 512;
const MAX_ERROR: usize = 1024;

/// `text` cut to `max` characters (marked with `…` where cut).
fn capped(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

async fn record_refusal(
    life: &Lifecycle,
    request: &HttpRequest,
    realm: &str,
    operation: Operation,
    resource: Resource,
    path: String,
    error: String,
) {
    if latchkey_domain::realm::validate_realm_name(realm).is_err() {
        return;
    }
    let realm = match latchkey_store::realms::find_by_name(life.store.conn(), realm).await {
        Ok(Some(realm)) => realm,
        Ok(None) => return,
        Err(error) => return tracing::error!(%error, "an admin event could not be recorded"),
    };
    // Anyone signed in can get a token the admin API accepts (every realm's `admin-cli` takes a
    // password): storing each refusal would let them fill the table. Only the refusals of
    // callers holding some admin role in that realm are stored; the rest are counted.
    let administers = |admin: &crate::auth::Admin| {
        admin.manages_every_realm() || (admin.home.id == realm.id && !admin.roles.is_empty())
    };
    let admin = match authenticate(life, request).await {
        Ok(admin) if administers(&admin) => admin,
        _ => {
            life.unrecorded_refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    };
    let path = capped(path, MAX_PATH);
    let action = AdminAction { actor: admin.actor(), operation, resource, path, representation: None };
    let event = AdminEvent { error: Some(capped(error, MAX_ERROR)), ..action.event(realm.id, Timestamp::now()) };
    if let Err(error) = events::insert_many(life.store.conn(), &[event]).await {
        tracing::error!(%error, "an admin event could not be recorded");
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthDetails {
    pub realm_id: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip_address: Option<String>,
}

/// Keycloak's `AdminEventRepresentation`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "01936a4e-5f00-7000-8000-000000000000", "time": 1764270000000_i64, "realmId": "…",
    "authDetails": {"realmId": "…", "clientId": "admin-cli", "userId": "…", "ipAddress": "127.0.0.1"},
    "operationType": "ACTION", "resourceType": "REALM", "resourcePath": "logout-all", "representation": null, "error": null}))]
pub struct AdminEventRepresentation {
    pub id: String,
    /// Epoch milliseconds.
    pub time: i64,
    pub realm_id: String,
    pub auth_details: AuthDetails,
    pub operation_type: String,
    pub resource_type: String,
    pub resource_path: String,
    pub representation: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase", parameter_in = Query)]
pub struct EventSearch {
    /// Comma-separated: `CREATE`, `UPDATE`, `DELETE`, `ACTION`.
    operation_types: Option<String>,
    /// Comma-separated, as `USER_SESSION`, `USER`, `CLIENT`, `REALM`.
    resource_types: Option<String>,
    /// A prefix of the resource path, as `users/…`.
    resource_path: Option<String>,
    /// The acting administrator's user id.
    #[param(format = Uuid)]
    auth_user: Option<String>,
    #[param(schema_with = date_from)]
    date_from: Option<String>,
    #[param(schema_with = date_to)]
    date_to: Option<String>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

/// Epoch milliseconds as `dateFrom` / `dateTo` take them: an optional `-` and 1 to 18 digits.
const MILLIS_PATTERN: &str = "^-?[0-9]{1,18}$";

fn date_from() -> utoipa::openapi::Schema {
    day_or_millis(
        "From this day, `yyyy-mm-dd` (UTC, as Keycloak), or from this instant in epoch milliseconds.",
        "2026-11-01",
    )
}

fn date_to() -> utoipa::openapi::Schema {
    day_or_millis(
        "Through this day, `yyyy-mm-dd` (UTC, the whole day), or up to this instant in epoch milliseconds.",
        "2026-11-30",
    )
}

/// The schema of `dateFrom` / `dateTo`: a calendar date, or epoch milliseconds.
fn day_or_millis(description: &str, example: &str) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(MILLIS_PATTERN)))
        .description(Some(description))
        .examples([example])
        .build()
        .into()
}

/// A `dateFrom` / `dateTo`: a `yyyy-mm-dd` day (its first instant, or with `end_of_day` its
/// last) or epoch milliseconds; nothing else, not even an empty value.
fn date(name: &str, raw: Option<&str>, end_of_day: bool) -> Result<Option<Timestamp>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(raw.parse().ok().map(Timestamp::from_millis));
    }
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    let day = Timestamp::from_date(raw).filter(|_| shaped).ok_or_else(|| {
        ApiError::BadRequest(format!("{name}: '{raw}' is neither a date (yyyy-mm-dd) nor epoch milliseconds"))
    })?;
    Ok(Some(if end_of_day { Timestamp::from_millis(day.plus_secs(86_400).as_millis() - 1) } else { day }))
}

fn list_of(raw: &Option<String>) -> Vec<String> {
    raw.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_uppercase).collect()
}

/// The realm's admin events, newest first.
#[utoipa::path(tag = "audit", params(crate::contract::path::InRealm, EventSearch),
    responses((status = 200, description = "One page of events", body = Vec<AdminEventRepresentation>),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody)))]
#[get("/admin/realms/{realm}/admin-events")]
pub async fn list_admin_events(at: InRealm<ViewRealm>, q: Query<EventSearch>) -> Result<HttpResponse, ApiError> {
    let (first, max) = crate::sessions::page(q.first, q.max, 100)?;
    let auth_user = match q.auth_user.as_deref() {
        Some(raw) => Some(crate::input::id(raw).ok_or_else(|| ApiError::BadRequest("authUser: not a user id".into()))?),
        None => None,
    };
    let query = EventQuery {
        operation_types: list_of(&q.operation_types),
        resource_types: list_of(&q.resource_types),
        resource_path: q.resource_path.clone(),
        auth_user,
        from: date("dateFrom", q.date_from.as_deref(), false)?,
        to: date("dateTo", q.date_to.as_deref(), true)?,
    };
    let found = events::list(at.conn(), at.realm.id, &query, first, max).await?;
    let body: Vec<AdminEventRepresentation> = found
        .into_iter()
        .map(|e| AdminEventRepresentation {
            id: e.id.to_string(),
            time: e.time.as_millis(),
            realm_id: e.realm_id.to_string(),
            auth_details: AuthDetails {
                realm_id: e.auth_realm_id.map(|id| id.to_string()),
                client_id: e.auth_client_id,
                user_id: e.auth_user_id.map(|id| id.to_string()),
                ip_address: e.ip_address,
            },
            operation_type: e.operation_type,
            resource_type: e.resource_type,
            resource_path: e.resource_path,
            representation: e.representation,
            error: e.error,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
