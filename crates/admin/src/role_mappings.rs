//! Granting the admin roles the Keycloak way. Keycloak keeps a realm's admin roles as roles of
//! its `realm-management` client, and scripts grant them by finding that client
//! (`GET clients?clientId=realm-management`), reading its roles, and posting them to
//! `users/{id}/role-mappings/clients/{client}`. Latchkey keeps the same grants as
//! `admin-roles`; here they are shown through Keycloak's shapes: each realm has a
//! `realm-management` client (not a stored client: no sign-in reaches it, and its id and its
//! roles' ids are derived from the realm's, so they are the same on every node and after a
//! restart) whose roles are the realm's admin roles. The master realm's `admin` is a realm
//! role, as in Keycloak, listed under `realmMappings`.

use std::collections::BTreeMap;

use actix_web::{delete, get, post, HttpResponse};
use latchkey_domain::{AdminRole, Realm, RealmId, Timestamp};
use latchkey_lifecycle::audit::{Operation, Resource};
use latchkey_store::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::authorized::{InRealm, RealmAdmin, Role, ViewClients, ViewUsers};
use crate::body::Json;
use crate::clients::ClientRepresentation;
use crate::error::{ApiError, ErrorBody};
use crate::users::may_grant;

/// The clientId of the client whose roles are the realm's admin roles.
pub use latchkey_domain::client::MANAGEMENT_CLIENT;

/// The namespace of the derived ids (UUID v5) of `realm-management` clients and their roles.
const IDS: Uuid = Uuid::from_u128(0x6c61_7463_686b_5265_806d_676d_7400_0001);

/// The id of the realm's `realm-management` client.
pub fn management_client_id(realm: RealmId) -> Uuid {
    Uuid::new_v5(&IDS, realm.as_uuid().as_bytes())
}

fn role_id(realm: RealmId, role: AdminRole) -> Uuid {
    Uuid::new_v5(&IDS, format!("{}/{}", realm, role.as_str()).as_bytes())
}

/// The roles of `realm-management`: every admin role but `admin` (a realm role of master).
fn client_roles() -> impl Iterator<Item = AdminRole> {
    AdminRole::ALL.into_iter().filter(|r| *r != AdminRole::Admin)
}

/// The representation of the realm's `realm-management` client.
pub fn management_client(realm: &Realm) -> ClientRepresentation {
    ClientRepresentation {
        id: Some(management_client_id(realm.id).to_string()),
        client_id: Some(MANAGEMENT_CLIENT.into()),
        name: Some("${client_realm-management}".into()),
        protocol: Some("openid-connect".into()),
        enabled: Some(true),
        public_client: Some(false),
        redirect_uris: Some(Vec::new()),
        web_origins: Some(Vec::new()),
        direct_access_grants_enabled: Some(false),
        standard_flow_enabled: Some(false),
        service_accounts_enabled: Some(false),
        frontchannel_logout: Some(false),
        not_before: Some(0),
        attributes: Some(BTreeMap::new()),
        ..Default::default()
    }
}

/// Keycloak's `RoleRepresentation`. Sent in a grant, `id` or `name` says which role (the other
/// fields are ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "6b0e8a3e-5f0c-5a7e-9d43-2f1f1c3b6a10", "name": "view-users",
    "description": "${role_view-users}", "composite": false, "clientRole": true,
    "containerId": "0a8c3a47-5b3e-5d6f-8c1a-9e2d4f6b8a01"}))]
pub struct RoleRepresentation {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub composite: Option<bool>,
    pub client_role: Option<bool>,
    pub container_id: Option<String>,
}

fn representation(realm: &Realm, role: AdminRole) -> RoleRepresentation {
    let client_role = role != AdminRole::Admin;
    RoleRepresentation {
        id: Some(role_id(realm.id, role).to_string()),
        name: Some(role.as_str().into()),
        description: Some(format!("${{role_{}}}", role.as_str())),
        // realm-admin holds every role; a manage- role holds its view- role.
        composite: Some(AdminRole::ALL.iter().any(|other| *other != role && role.satisfies(*other))),
        client_role: Some(client_role),
        container_id: Some(if client_role { management_client_id(realm.id) } else { realm.id.as_uuid() }.to_string()),
    }
}

/// Whether `{id}` (or `{clientUuid}`) names the realm's `realm-management` client.
fn is_management<R: Role>(at: &InRealm<R>, id: &str) -> bool {
    id.parse::<Uuid>().is_ok_and(|id| id == management_client_id(at.realm.id))
}

/// The path's client when it is `realm-management`; `None` for another client of the realm
/// (which has no roles); 404 when there is no such client.
async fn management<R: Role>(at: &InRealm<R>, param: &str) -> Result<bool, ApiError> {
    let id = at.path(param).to_owned();
    if is_management(at, &id) {
        return Ok(true);
    }
    at.client_by(&id).await.map(|_| false)
}

/// The roles of a client: for `realm-management`, the realm's admin roles; other clients have
/// none.
#[utoipa::path(tag = "roles", params(crate::contract::path::ClientIn),
    responses((status = 200, description = "The client's roles", body = Vec<RoleRepresentation>),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody), (status = 404, description = "No such realm or client", body = ErrorBody)))]
#[get("/admin/realms/{realm}/clients/{id}/roles")]
pub async fn list_client_roles(at: InRealm<ViewClients>) -> Result<HttpResponse, ApiError> {
    let roles: Vec<RoleRepresentation> = if management(&at, "id").await? {
        client_roles().map(|r| representation(&at.realm, r)).collect()
    } else {
        Vec::new()
    };
    Ok(HttpResponse::Ok().json(roles))
}

/// One role of a client, by name.
#[utoipa::path(tag = "roles",
    params(crate::contract::path::ClientIn, ("roleName" = String, Path, description = "Role name", example = "view-users")),
    responses((status = 200, description = "The role", body = RoleRepresentation),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody), (status = 404, description = "No such realm, client or role", body = ErrorBody)))]
#[get("/admin/realms/{realm}/clients/{id}/roles/{roleName}")]
pub async fn get_client_role(at: InRealm<ViewClients>) -> Result<HttpResponse, ApiError> {
    let found = match management(&at, "id").await? {
        true => client_roles().find(|r| r.as_str() == at.path("roleName")),
        false => None,
    };
    let role = found.ok_or_else(|| ApiError::NotFound("Could not find role".into()))?;
    Ok(HttpResponse::Ok().json(representation(&at.realm, role)))
}

/// Keycloak's `MappingsRepresentation` of a user's roles.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingsRepresentation {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub realm_mappings: Vec<RoleRepresentation>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub client_mappings: BTreeMap<String, ClientMappings>,
}

/// The roles a user holds of one client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientMappings {
    pub id: String,
    pub client: String,
    pub mappings: Vec<RoleRepresentation>,
}

/// Every role a user holds: the master `admin` as a realm role, the rest as roles of
/// `realm-management`.
#[utoipa::path(tag = "roles", params(crate::contract::path::UserIn),
    responses((status = 200, description = "The user's roles", body = MappingsRepresentation, example = json!({"clientMappings": {"realm-management": {"id": "0a8c3a47-5b3e-5d6f-8c1a-9e2d4f6b8a01", "client": "realm-management", "mappings": [{"id": "6b0e8a3e-5f0c-5a7e-9d43-2f1f1c3b6a10", "name": "view-users", "description": "${role_view-users}", "composite": false, "clientRole": true, "containerId": "0a8c3a47-5b3e-5d6f-8c1a-9e2d4f6b8a01"}]}}})),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such realm or user", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id}/role-mappings")]
pub async fn get_role_mappings(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    let held = users::roles_of(at.conn(), user.id).await?;
    let (realm_roles, client): (Vec<AdminRole>, Vec<AdminRole>) =
        held.into_iter().partition(|r| *r == AdminRole::Admin);
    let mut client_mappings = BTreeMap::new();
    if !client.is_empty() {
        client_mappings.insert(
            MANAGEMENT_CLIENT.to_owned(),
            ClientMappings {
                id: management_client_id(at.realm.id).to_string(),
                client: MANAGEMENT_CLIENT.into(),
                mappings: client.into_iter().map(|r| representation(&at.realm, r)).collect(),
            },
        );
    }
    let realm_mappings = realm_roles.into_iter().map(|r| representation(&at.realm, r)).collect();
    Ok(HttpResponse::Ok().json(MappingsRepresentation { realm_mappings, client_mappings }))
}

/// Which roles of a client a listing shows.
enum Listing {
    Held,
    Available,
    Effective,
}

async fn client_mappings(at: InRealm<ViewUsers>, listing: Listing) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    if !management(&at, "clientUuid").await? {
        return Ok(HttpResponse::Ok().json(Vec::<RoleRepresentation>::new()));
    }
    let held = users::roles_of(at.conn(), user.id).await?;
    let roles: Vec<RoleRepresentation> = client_roles()
        .filter(|role| match listing {
            Listing::Held => held.contains(role),
            Listing::Available => !held.contains(role),
            Listing::Effective => held.iter().any(|h| h.satisfies(*role)),
        })
        .map(|r| representation(&at.realm, r))
        .collect();
    Ok(HttpResponse::Ok().json(roles))
}

/// The roles of a client granted to a user.
#[utoipa::path(tag = "roles",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses((status = 200, description = "Granted roles", body = Vec<RoleRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such realm, user or client", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id}/role-mappings/clients/{clientUuid}")]
pub async fn get_client_role_mappings(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    client_mappings(at, Listing::Held).await
}

/// The roles of a client a user could still be granted.
#[utoipa::path(tag = "roles",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses((status = 200, description = "Roles not granted", body = Vec<RoleRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such realm, user or client", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id}/role-mappings/clients/{clientUuid}/available")]
pub async fn get_available_client_roles(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    client_mappings(at, Listing::Available).await
}

/// The roles of a client a user holds in effect: granted, or included in one granted
/// (`realm-admin` holds them all; a `manage-` role its `view-` role).
#[utoipa::path(tag = "roles",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    responses((status = 200, description = "Effective roles", body = Vec<RoleRepresentation>),
        (status = 403, description = "Not allowed: needs view-users", body = ErrorBody), (status = 404, description = "No such realm, user or client", body = ErrorBody)))]
#[get("/admin/realms/{realm}/users/{id}/role-mappings/clients/{clientUuid}/composite")]
pub async fn get_composite_client_roles(at: InRealm<ViewUsers>) -> Result<HttpResponse, ApiError> {
    client_mappings(at, Listing::Effective).await
}

/// The admin roles a grant or a removal names, each by `id` or else by `name`; 404 for a role
/// the client does not have.
fn named_roles(realm: &Realm, sent: &[RoleRepresentation]) -> Result<Vec<AdminRole>, ApiError> {
    sent.iter()
        .map(|wanted| {
            client_roles()
                .find(|role| match (&wanted.id, &wanted.name) {
                    (Some(id), _) => *id == role_id(realm.id, *role).to_string(),
                    (None, Some(name)) => name == role.as_str(),
                    (None, None) => false,
                })
                .ok_or_else(|| {
                    let which = wanted.id.as_deref().or(wanted.name.as_deref()).unwrap_or("(no id or name)");
                    ApiError::NotFound(format!("Could not find role {which}"))
                })
        })
        .collect()
}

async fn change(at: InRealm<RealmAdmin>, sent: Vec<RoleRepresentation>, grant: bool) -> Result<HttpResponse, ApiError> {
    let user = at.user().await?;
    if !management(&at, "clientUuid").await? {
        return Err(ApiError::NotFound("Could not find role: this client has no roles".into()));
    }
    let roles = named_roles(&at.realm, &sent)?;
    let held = users::roles_of(at.conn(), user.id).await?;
    // As for admin-roles: only who may grant every role the user holds changes its grants.
    for role in roles.iter().chain(held.iter()) {
        may_grant(&at.admin, &at.realm, *role)?;
    }
    if !grant && roles.contains(&AdminRole::Admin) {
        at.keeps_a_master_admin(&user, "lose 'admin'").await?;
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let path = format!("users/{}/role-mappings/clients/{}", user.id, management_client_id(at.realm.id));
    let operation = if grant { Operation::Create } else { Operation::Delete };
    let action = at.action(operation, Resource::AdminRoles, path).sent(&names);
    let txn = at.life.store.begin().await?;
    for role in &roles {
        if grant {
            users::grant_role(&txn, user.id, *role, Timestamp::now()).await?;
        } else {
            users::revoke_role(&txn, user.id, *role).await?;
        }
    }
    at.commit(txn, &action).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Grants a user roles of `realm-management` (needs `realm-admin`).
#[utoipa::path(tag = "roles",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    request_body(content = Vec<RoleRepresentation>, example = json!([{"name": "view-users"}])),
    responses((status = 204, description = "Granted"), (status = 400, description = "Not a list of roles", body = ErrorBody),
        (status = 403, description = "Not allowed: needs realm-admin", body = ErrorBody), (status = 404, description = "No such realm, user, client or role", body = ErrorBody)))]
#[post("/admin/realms/{realm}/users/{id}/role-mappings/clients/{clientUuid}")]
pub async fn add_client_role_mappings(
    at: InRealm<RealmAdmin>,
    body: Json<Vec<RoleRepresentation>>,
) -> Result<HttpResponse, ApiError> {
    change(at, body.into_inner(), true).await
}

/// Takes roles of `realm-management` from a user (needs `realm-admin`).
#[utoipa::path(tag = "roles",
    params(crate::contract::path::UserIn, ("clientUuid" = uuid::Uuid, Path, description = "Client UUID", example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")),
    request_body(content = Vec<RoleRepresentation>, example = json!([{"name": "view-users"}])),
    responses((status = 204, description = "Taken away"), (status = 400, description = "Not a list of roles", body = ErrorBody),
        (status = 403, description = "Not allowed: needs realm-admin", body = ErrorBody), (status = 404, description = "No such realm, user, client or role", body = ErrorBody),
        (status = 409, description = "The user is the master realm's last enabled `admin` and would lose it", body = ErrorBody)))]
#[delete("/admin/realms/{realm}/users/{id}/role-mappings/clients/{clientUuid}")]
pub async fn delete_client_role_mappings(
    at: InRealm<RealmAdmin>,
    body: Json<Vec<RoleRepresentation>>,
) -> Result<HttpResponse, ApiError> {
    change(at, body.into_inner(), false).await
}
