//! Users: the minimal surface scripts and the console need — search, count, read, create,
//! update, delete, set a password — and the admin roles a user holds. Disabling or deleting a
//! user ends its sessions and tells its applications.

use actix_web::{delete, get, post, put, web, HttpResponse};
use latchkey_domain::user::normalize_email;
use latchkey_domain::{AdminRole, Realm, Secret, Timestamp, User};
use latchkey_lifecycle::audit::{AdminAction, Operation, Resource};
use latchkey_store::users::{self, UserQuery};
use latchkey_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Admin;
use crate::authorized::{InRealm, ManageUsers, RealmAdmin, ViewUsers};
use crate::body::Json;
use crate::error::{ApiError, ErrorBody};
use crate::query::Query;

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
    #[schema(inline)]
    pub kind: Option<CredentialType>,
    /// The password: 1 to 1024 characters.
    #[schema(min_length = 1, max_length = 1024)]
    pub value: String,
    /// Accepted and ignored: a password is never temporary here.
    pub temporary: Option<bool>,
}

/// The credential types there are.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    Password,
}

/// The fields of a user to set; absent (or `null`) ones stay as they are, and so does an
/// empty `email`, `firstName` or `lastName`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSettings {
    #[schema(schema_with = crate::input::email_schema)]
    pub email: Option<String>,
    #[schema(max_length = 255)]
    pub first_name: Option<String>,
    #[schema(max_length = 255)]
    pub last_name: Option<String>,
    pub enabled: Option<bool>,
    pub email_verified: Option<bool>,
}

/// A user to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"username": "dora", "email": "dora@example.com", "enabled": true,
    "credentials": [{"type": "password", "value": "s3cret-pass", "temporary": false}]}))]
pub struct NewUser {
    #[schema(schema_with = username_schema)]
    pub username: String,
    /// The user's password, as the first credential; each one must be valid.
    pub credentials: Option<Vec<CredentialRepresentation>>,
    #[serde(flatten)]
    pub settings: UserSettings,
}

/// The fields of a user to change. A representation read from the API may be sent back
/// whole: usernames cannot change, so a `username` must be the user's own (in any case), and
/// what else it holds (`id`, `createdTimestamp`, `credentials`, …) is ignored; passwords are
/// set with `reset-password`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"firstName": "Dora", "lastName": "Marquez", "enabled": true}))]
pub struct UserUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub username: Option<String>,
    #[serde(flatten)]
    pub settings: UserSettings,
}

fn username_schema() -> utoipa::openapi::Schema {
    crate::input::name_schema("Unique in the realm, in any case; kept in lower case.", false)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// Username, email, first or last name containing it, in any case.
    #[param(example = "ali")]
    search: Option<String>,
    username: Option<String>,
    email: Option<String>,
    /// With `username` or `email`: match exactly. `true` or `false`, in any case.
    #[serde(default, deserialize_with = "crate::query::flag")]
    exact: Option<bool>,
}

/// [`UserSearch`] with paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserPage {
    /// Username, email, first or last name containing it, in any case.
    #[param(example = "ali")]
    search: Option<String>,
    username: Option<String>,
    email: Option<String>,
    /// With `username` or `email`: match exactly. `true` or `false`, in any case.
    #[serde(default, deserialize_with = "crate::query::flag")]
    exact: Option<bool>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
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

impl UserPage {
    fn query(&self) -> UserQuery {
        let UserPage { search, username, email, exact, .. } = self;
        UserSearch { search: search.clone(), username: username.clone(), email: email.clone(), exact: *exact }.query()
    }
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

/// The password the credentials set (the first one's), each credential checked.
async fn password_of(
    credentials: Option<Vec<CredentialRepresentation>>,
) -> Result<Option<latchkey_domain::PasswordHash>, ApiError> {
    let credentials = credentials.unwrap_or_default();
    for credential in &credentials {
        let length = credential.value.chars().count();
        if !(1..=1024).contains(&length) {
            return Err(ApiError::BadRequest("password: must be 1 to 1024 characters".into()));
        }
    }
    let Some(credential) = credentials.into_iter().next() else { return Ok(None) };
    let secret = Secret::new(credential.value);
    let hash = web::block(move || secret.hash()).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Some(hash.map_err(|e| ApiError::BadRequest(e.to_string()))?))
}

/// Users of the realm, by username.
#[utoipa::path(tag = "users", params(crate::contract::path::InRealm, UserPage),
    responses((status = 200, description = "One page of users", body = Vec<UserRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users")]
pub async fn list_users(at: InRealm<ViewUsers>, q: Query<UserPage>) -> Result<HttpResponse, ApiError> {
    let (first, max) = crate::sessions::page(q.first, q.max, 100)?;
    let found = users::search(at.conn(), at.realm.id, &q.query(), first, max).await?;
    Ok(HttpResponse::Ok().json(found.iter().map(UserRepresentation::from).collect::<Vec<_>>()))
}

/// How many users match (a bare number, as Keycloak answers).
#[utoipa::path(tag = "users", params(crate::contract::path::InRealm, UserSearch),
    responses((status = 200, description = "The number of users", body = u64, content_type = "application/json"),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/count")]
pub async fn count_users(at: InRealm<ViewUsers>, q: Query<UserSearch>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(users::count(at.conn(), at.realm.id, &q.query()).await?))
}

/// One user.
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn),
    responses((status = 200, description = "The user", body = UserRepresentation),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such realm or user", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id:[-0-9a-fA-F]+}")]
pub async fn get_user(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserRepresentation::from(&at.user().await?)))
}

/// Creates a user; answers 201 with its address in `Location`.
#[utoipa::path(tag = "users", params(crate::contract::path::InRealm), request_body = NewUser,
    responses((status = 201, description = "Created", headers(("Location" = String, description = "The new user's URL"))),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 409, description = "The username is taken, or the username or email is another user's email or username", body = ErrorBody)))]
#[post("/admin/realms/{realm}/users")]
pub async fn create_user(at: InRealm<ManageUsers>, body: Json<NewUser>) -> Result<HttpResponse, ApiError> {
    let sent = at.action(Operation::Create, Resource::User, String::new()).sent(&*body);
    let NewUser { username, credentials, settings } = body.into_inner();
    let mut user =
        User::new(at.realm.id, &username, Timestamp::now()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let action = AdminAction { path: format!("users/{}", user.id), ..sent };
    apply(&mut user, settings)?;
    user.password = password_of(credentials).await?;
    no_name_clash(&at, &user).await?;
    let txn = at.life.store.begin().await?;
    users::insert(&txn, &user).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict("User exists with same username".into()),
        other => other.into(),
    })?;
    at.commit(txn, &action).await?;
    Ok(HttpResponse::Created().insert_header(("Location", at.location(&format!("users/{}", user.id)))).finish())
}

/// Refuses (409) a username equal to another user's email, or an email equal to another
/// user's username: sign-in takes either, so one person could take the other's way in.
async fn no_name_clash(at: &InRealm<ManageUsers>, user: &User) -> Result<(), ApiError> {
    if users::name_clash(at.conn(), at.realm.id, &user.username, user.email.as_deref(), user.id).await? {
        return Err(ApiError::Conflict(
            "A username may not be another user's email, nor an email another user's username".into(),
        ));
    }
    Ok(())
}

fn apply(user: &mut User, input: UserSettings) -> Result<(), ApiError> {
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
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn), request_body = UserUpdate,
    responses((status = 204, description = "Updated"), (status = 400, description = "A field is invalid", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
        (status = 409, description = "The email is another user's username, or the user is the master realm's last enabled `admin` (it cannot be disabled)", body = ErrorBody)))]
#[put("/admin/realms/{realm}/users/{id:[-0-9a-fA-F]+}")]
pub async fn update_user(at: InRealm<ManageUsers>, body: Json<UserUpdate>) -> Result<HttpResponse, ApiError> {
    let user = at.user_to_change().await?;
    let input = body.into_inner();
    let action = at.action(Operation::Update, Resource::User, format!("users/{}", user.id)).sent(&input);
    if input.username.as_deref().is_some_and(|n| n.to_lowercase() != user.username) {
        return Err(ApiError::BadRequest("username: cannot be changed".into()));
    }
    let mut updated = user.clone();
    apply(&mut updated, input.settings)?;
    if user.enabled && !updated.enabled {
        at.keeps_a_master_admin(&user, "be disabled").await?;
    }
    if updated.email != user.email {
        no_name_clash(&at, &updated).await?;
    }
    at.life.update_user(&at.realm, &user, &updated, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a user after ending its sessions (its applications are told).
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody), (status = 404, description = "No such realm or user", body = ErrorBody),
        (status = 409, description = "The user is the master realm's last enabled `admin`", body = ErrorBody)))]
#[delete("/admin/realms/{realm}/users/{id:[-0-9a-fA-F]+}")]
pub async fn delete_user(at: InRealm<ManageUsers>) -> Result<HttpResponse, ApiError> {
    let user = at.user_to_change().await?;
    at.keeps_a_master_admin(&user, "be deleted").await?;
    let action = at.action(Operation::Delete, Resource::User, format!("users/{}", user.id));
    at.life.delete_user(&at.realm, &user, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a user's password.
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn), request_body = CredentialRepresentation,
    responses((status = 204, description = "Set"), (status = 400, description = "Not a usable password", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody)))]
#[put("/admin/realms/{realm}/users/{id}/reset-password")]
pub async fn reset_password(
    at: InRealm<ManageUsers>,
    body: Json<CredentialRepresentation>,
) -> Result<HttpResponse, ApiError> {
    let user = at.user_to_change().await?;
    let mut updated = user.clone();
    updated.password = password_of(Some(vec![body.into_inner()])).await?;
    let action = at.action(Operation::Action, Resource::User, format!("users/{}/reset-password", user.id));
    at.life.update_user(&at.realm, &user, &updated, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The realm-management roles a user holds (`view-users`, `manage-users`, …, `realm-admin`).
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn),
    responses((status = 200, description = "Role names", body = Vec<RoleName>, example = json!(["view-users"])), (status = 403, description = "Not allowed: needs view-users", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id}/admin-roles")]
pub async fn get_admin_roles(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    let roles = users::roles_of(at.conn(), user.id).await?;
    Ok(HttpResponse::Ok().json(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()))
}

/// The name of a realm-management role; `admin` exists in the master realm only.
pub struct RoleName;

impl utoipa::PartialSchema for RoleName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(AdminRole::ALL.map(AdminRole::as_str)))
            .description(Some("A realm-management role; `admin` exists in the master realm only."))
            .into()
    }
}

impl ToSchema for RoleName {}

pub(crate) fn may_grant(admin: &Admin, realm: &Realm, role: AdminRole) -> Result<(), ApiError> {
    if role == AdminRole::Admin && !realm.is_master() {
        return Err(ApiError::Forbidden("The 'admin' role is granted in the master realm only".into()));
    }
    admin.require(if role == AdminRole::Admin { AdminRole::Admin } else { AdminRole::RealmAdmin })
}

/// Replaces the realm-management roles a user holds. Only a `realm-admin` (or the master
/// `admin`) grants them; only the master `admin` grants `admin`.
#[utoipa::path(tag = "users", params(crate::contract::path::UserIn),
    request_body(content = Vec<RoleName>, example = json!(["view-users", "manage-users"])),
    responses((status = 204, description = "Replaced"),
        (status = 403, description = "Not allowed: needs realm-admin, and `admin` (master realm only) needs the master `admin`", body = ErrorBody),
        (status = 404, description = "No such realm or user", body = ErrorBody),
        (status = 409, description = "The user is the master realm's last enabled `admin` and would lose it", body = ErrorBody)))]
#[put("/admin/realms/{realm}/users/{id}/admin-roles")]
pub async fn set_admin_roles(at: InRealm<RealmAdmin>, body: Json<Vec<String>>) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    let wanted: Vec<AdminRole> = body
        .iter()
        .map(|r| r.parse().map_err(|e: latchkey_domain::DomainError| ApiError::BadRequest(e.to_string())))
        .collect::<Result<_, _>>()?;
    let held = users::roles_of(at.conn(), user.id).await?;
    for role in wanted.iter().chain(held.iter()) {
        may_grant(&at.admin, &at.realm, *role)?;
    }
    if !wanted.contains(&AdminRole::Admin) {
        at.keeps_a_master_admin(&user, "lose 'admin'").await?;
    }
    let granted: Vec<&str> = wanted.iter().map(|r| r.as_str()).collect();
    let path = format!("users/{}/admin-roles", user.id);
    let action = at.action(Operation::Update, Resource::AdminRoles, path).sent(&granted);
    let txn = at.life.store.begin().await?;
    for role in held.iter().filter(|r| !wanted.contains(r)) {
        users::revoke_role(&txn, user.id, *role).await?;
    }
    for role in &wanted {
        users::grant_role(&txn, user.id, *role, Timestamp::now()).await?;
    }
    at.commit(txn, &action).await?;
    Ok(HttpResponse::NoContent().finish())
}
