//! Users: the minimal surface scripts and the console need — search, count, read, create,
//! update, delete, set a password — and the admin roles a user holds. Disabling or deleting a
//! user ends its sessions and tells its applications.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use latchkey_domain::user::normalize_email;
use latchkey_domain::{AdminRole, Realm, Secret, Timestamp, User};
use latchkey_oidc::Provider;
use latchkey_store::users::{self, UserQuery};
use latchkey_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{authenticate, Admin};
use crate::error::{ApiError, ErrorBody};

/// Keycloak's `UserRepresentation`, in part.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "0c6f5b7e-4f4e-4f55-9d59-0f1c8a7b2f10", "username": "alice", "email": "alice@example.com",
    "firstName": "Alice", "lastName": "Archer", "enabled": true, "emailVerified": true,
    "createdTimestamp": 1764270000000_i64, "notBefore": 0}))]
pub struct UserRepresentation {
    pub id: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    pub enabled: bool,
    pub email_verified: bool,
    /// Epoch milliseconds.
    pub created_timestamp: i64,
    /// Epoch seconds; tokens issued earlier are refused.
    pub not_before: i64,
}

impl From<&User> for UserRepresentation {
    fn from(u: &User) -> Self {
        UserRepresentation {
            id: u.id.to_string(),
            username: u.username.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            enabled: u.enabled,
            email_verified: u.email_verified,
            created_timestamp: u.created_at.as_millis(),
            not_before: u.not_before,
        }
    }
}

/// A credential, as Keycloak's clients send it on create and reset-password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"type": "password", "value": "n3w-s3cret-pass", "temporary": false}))]
pub struct CredentialRepresentation {
    /// Only `password` is supported.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub value: String,
    pub temporary: Option<bool>,
}

/// A user to create, or the fields of a user to change (absent fields stay as they are).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"username": "dora", "email": "dora@example.com", "enabled": true,
    "credentials": [{"type": "password", "value": "s3cret-pass", "temporary": false}]}))]
pub struct UserInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub enabled: Option<bool>,
    pub email_verified: Option<bool>,
    pub credentials: Option<Vec<CredentialRepresentation>>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserSearch {
    /// Username, email, first or last name containing it, in any case.
    #[param(example = "ali")]
    search: Option<String>,
    username: Option<String>,
    email: Option<String>,
    /// With `username` or `email`: match exactly.
    #[serde(default, deserialize_with = "crate::query::flag")]
    exact: Option<bool>,
    /// Index of the first row (from 0).
    #[param(example = 0)]
    first: Option<i64>,
    /// Rows per page (at most 1000).
    #[param(example = 10)]
    max: Option<i64>,
}

impl UserSearch {
    fn query(&self) -> UserQuery {
        UserQuery {
            search: self.search.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            exact: self.exact.unwrap_or(false),
        }
    }
}

pub(crate) async fn find_user(provider: &Provider, realm: &Realm, id: &str) -> Result<User, ApiError> {
    let not_found = || ApiError::NotFound("User not found".into());
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    users::find_by_id(provider.store.conn(), id)
        .await?
        .filter(|u| u.realm_id == realm.id && u.service_account_of.is_none())
        .ok_or_else(not_found)
}

/// A user the administrator may change: one of the realm holding no admin role the
/// administrator lacks (see [`Admin::require_at_least`]).
pub(crate) async fn find_user_to_change(
    provider: &Provider,
    admin: &Admin,
    realm: &Realm,
    id: &str,
) -> Result<User, ApiError> {
    let user = find_user(provider, realm, id).await?;
    admin.require_at_least(&users::roles_of(provider.store.conn(), user.id).await?)?;
    Ok(user)
}

fn bounded(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ApiError::BadRequest(format!("{field}: must be at most {max} characters")))
        }
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

async fn password_of(
    credentials: Option<Vec<CredentialRepresentation>>,
) -> Result<Option<latchkey_domain::PasswordHash>, ApiError> {
    let Some(credential) = credentials.and_then(|c| c.into_iter().next()) else { return Ok(None) };
    if credential.kind.as_deref().is_some_and(|k| k != "password") {
        return Err(ApiError::BadRequest("credentials: only the 'password' type is supported".into()));
    }
    let secret = Secret::new(credential.value);
    let hash = web::block(move || secret.hash()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Some(hash.map_err(|e| ApiError::BadRequest(e.to_string()))?))
}

/// Users of the realm, by username.
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), UserSearch),
    responses((status = 200, description = "One page of users", body = Vec<UserRepresentation>),
        (status = 400, description = "Bad paging", body = ErrorBody), (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/realms/{realm}/users")]
pub async fn list_users(
    provider: web::Data<Provider>,
    req: HttpRequest,
    realm: web::Path<String>,
    q: web::Query<UserSearch>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &realm, AdminRole::ViewUsers).await?;
    let (first, max) = crate::sessions::page(q.first, q.max, 100)?;
    let found = users::search(provider.store.conn(), realm.id, &q.query(), first, max).await?;
    Ok(HttpResponse::Ok().json(found.iter().map(UserRepresentation::from).collect::<Vec<_>>()))
}

/// How many users match (a bare number, as Keycloak answers).
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), UserSearch),
    responses((status = 200, description = "The number of users", body = u64, content_type = "application/json"), (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/realms/{realm}/users/count")]
pub async fn count_users(
    provider: web::Data<Provider>,
    req: HttpRequest,
    realm: web::Path<String>,
    q: web::Query<UserSearch>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &realm, AdminRole::ViewUsers).await?;
    Ok(HttpResponse::Ok().json(users::count(provider.store.conn(), realm.id, &q.query()).await?))
}

/// One user.
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")),
    responses((status = 200, description = "The user", body = UserRepresentation), (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/realms/{realm}/users/{id}")]
pub async fn get_user(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::ViewUsers).await?;
    Ok(HttpResponse::Ok().json(UserRepresentation::from(&find_user(&provider, &realm, &path.1).await?)))
}

/// Creates a user; answers 201 with its address in `Location`.
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo")), request_body = UserInput,
    responses((status = 201, description = "Created", headers(("Location" = String, description = "The new user's URL"))),
        (status = 400, description = "A field is invalid", body = ErrorBody), (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody)),
    security(("bearer" = [])))]
#[post("/admin/realms/{realm}/users")]
pub async fn create_user(
    provider: web::Data<Provider>,
    req: HttpRequest,
    realm: web::Path<String>,
    body: web::Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &realm, AdminRole::ManageUsers).await?;
    let input = body.into_inner();
    let representation = serde_json::to_value(&input).ok();
    let username = input.username.clone().ok_or_else(|| ApiError::BadRequest("username: is required".into()))?;
    let mut user = User::new(realm.id, &username, Timestamp::now()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    apply(&mut user, input.clone())?;
    user.password = password_of(input.credentials).await?;
    users::insert(provider.store.conn(), &user).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict("User exists with same username".into()),
        other => other.into(),
    })?;
    crate::audit::record(&provider, &admin, &realm, "CREATE", "USER", format!("users/{}", user.id), representation)
        .await;
    let location = format!("{}/admin/realms/{}/users/{}", provider.base_url(), realm.name, user.id);
    Ok(HttpResponse::Created().insert_header(("Location", location)).finish())
}

fn apply(user: &mut User, input: UserInput) -> Result<(), ApiError> {
    if let Some(email) = bounded("email", input.email, 320)? {
        user.email = Some(normalize_email(&email).map_err(|e| ApiError::BadRequest(e.to_string()))?);
    }
    if let Some(first) = bounded("firstName", input.first_name, 255)? {
        user.first_name = Some(first);
    }
    if let Some(last) = bounded("lastName", input.last_name, 255)? {
        user.last_name = Some(last);
    }
    if let Some(verified) = input.email_verified {
        user.email_verified = verified;
    }
    if let Some(enabled) = input.enabled {
        user.enabled = enabled;
    }
    Ok(())
}

/// Changes the fields present. Disabling ends the user's sessions (its applications are told).
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")), request_body = UserInput,
    responses((status = 204, description = "Updated"), (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[put("/admin/realms/{realm}/users/{id}")]
pub async fn update_user(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::ManageUsers).await?;
    let user = find_user_to_change(&provider, &admin, &realm, &path.1).await?;
    let input = body.into_inner();
    let representation = serde_json::to_value(&input).ok();
    if input.username.as_deref().is_some_and(|n| n.to_lowercase() != user.username) {
        return Err(ApiError::BadRequest("username: cannot be changed".into()));
    }
    let mut updated = user.clone();
    apply(&mut updated, input)?;
    if user.enabled && !updated.enabled {
        provider.disable_user(&realm, &user).await?;
        updated.enabled = false;
    }
    users::update_changed(provider.store.conn(), &user, &updated).await?;
    crate::audit::record(&provider, &admin, &realm, "UPDATE", "USER", format!("users/{}", user.id), representation)
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a user after ending its sessions (its applications are told).
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[delete("/admin/realms/{realm}/users/{id}")]
pub async fn delete_user(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::ManageUsers).await?;
    let user = find_user_to_change(&provider, &admin, &realm, &path.1).await?;
    provider.delete_user(&realm, &user).await?;
    crate::audit::record(&provider, &admin, &realm, "DELETE", "USER", format!("users/{}", user.id), None).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a user's password.
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")), request_body = CredentialRepresentation,
    responses((status = 204, description = "Set"), (status = 400, description = "Not a usable password", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[put("/admin/realms/{realm}/users/{id}/reset-password")]
pub async fn reset_password(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<CredentialRepresentation>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::ManageUsers).await?;
    let user = find_user_to_change(&provider, &admin, &realm, &path.1).await?;
    let mut updated = user.clone();
    updated.password = password_of(Some(vec![body.into_inner()])).await?;
    users::update_changed(provider.store.conn(), &user, &updated).await?;
    crate::audit::record(
        &provider,
        &admin,
        &realm,
        "ACTION",
        "USER",
        format!("users/{}/reset-password", user.id),
        None,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// The realm-management roles a user holds (`view-users`, `manage-users`, …, `realm-admin`).
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")),
    responses((status = 200, description = "Role names", body = Vec<String>, example = json!(["view-users"])),
        (status = 401, description = "No valid token", body = ErrorBody), (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/realms/{realm}/users/{id}/admin-roles")]
pub async fn get_admin_roles(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::ViewUsers).await?;
    let user = find_user(&provider, &realm, &path.1).await?;
    let roles = users::roles_of(provider.store.conn(), user.id).await?;
    Ok(HttpResponse::Ok().json(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()))
}

fn may_grant(admin: &Admin, realm: &Realm, role: AdminRole) -> Result<(), ApiError> {
    if role == AdminRole::Admin && !realm.is_master() {
        return Err(ApiError::BadRequest("role: 'admin' exists in the master realm only".into()));
    }
    admin.require(if role == AdminRole::Admin { AdminRole::Admin } else { AdminRole::RealmAdmin })
}

/// Replaces the realm-management roles a user holds. Only a `realm-admin` (or the master
/// `admin`) grants them; only the master `admin` grants `admin`.
#[utoipa::path(tag = "users", params(("realm" = String, Path, description = "Realm name", example = "demo"), ("id" = String, Path, description = "User id", example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")),
    request_body(content = Vec<String>, example = json!(["view-users", "manage-users"])),
    responses((status = 204, description = "Replaced"), (status = 400, description = "An unknown role", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody), (status = 403, description = "Not allowed: needs realm-admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = [])))]
#[put("/admin/realms/{realm}/users/{id}/admin-roles")]
pub async fn set_admin_roles(
    provider: web::Data<Provider>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate(&provider, &req).await?;
    let realm = admin.realm(&provider, &path.0, AdminRole::RealmAdmin).await?;
    let user = find_user(&provider, &realm, &path.1).await?;
    let wanted: Vec<AdminRole> = body
        .iter()
        .map(|r| r.parse().map_err(|e: latchkey_domain::DomainError| ApiError::BadRequest(e.to_string())))
        .collect::<Result<_, _>>()?;
    let held = users::roles_of(provider.store.conn(), user.id).await?;
    for role in wanted.iter().chain(held.iter()) {
        may_grant(&admin, &realm, *role)?;
    }
    let txn = provider.store.begin().await?;
    for role in held.iter().filter(|r| !wanted.contains(r)) {
        users::revoke_role(&txn, user.id, *role).await?;
    }
    for role in &wanted {
        users::grant_role(&txn, user.id, *role, Timestamp::now()).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    let granted = serde_json::json!(wanted.iter().map(|r| r.as_str()).collect::<Vec<_>>());
    crate::audit::record(
        &provider,
        &admin,
        &realm,
        "UPDATE",
        "ADMIN_ROLES",
        format!("users/{}/admin-roles", user.id),
        Some(granted),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
