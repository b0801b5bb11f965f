//! Clients: list, read, create, update, delete — with secrets and back-channel settings.
//! Secrets are stored as argon2id hashes: one is shown once, when it is generated, and never
//! again. Disabling a client kills its tokens at once and removes its client sessions behind
//! the request; deleting one tells it about each of its sessions first.

use std::collections::BTreeMap;

use actix_web::{delete, get, post, put, web, HttpResponse};
use latchkey_domain::{AdminRole, Client, ClientKind, Protocol, Secret, Timestamp};
use latchkey_lifecycle::audit::{AdminAction, Operation, Resource};
use latchkey_store::{clients, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::authorized::{InRealm, ManageClients, ViewClients};
use crate::body::Json;
use crate::client_settings::{
    apply, bad, ClientUpdate, NewClient, ADMIN_API, BACKCHANNEL_OFFLINE, BACKCHANNEL_SESSION, BACKCHANNEL_URL, PKCE,
};
use crate::error::{ApiError, ErrorBody};
use crate::query::Query;
use crate::role_mappings::{management_client, management_client_id, MANAGEMENT_CLIENT};

/// Keycloak's `ClientRepresentation`, in part, as the API answers it (never with a secret).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b", "clientId": "web", "protocol": "openid-connect",
    "enabled": true, "publicClient": false, "redirectUris": ["https://app.example/callback"], "webOrigins": [],
    "directAccessGrantsEnabled": false, "standardFlowEnabled": true, "serviceAccountsEnabled": false,
    "frontchannelLogout": false, "notBefore": 0,
    "attributes": {"backchannel.logout.url": "https://app.example/backchannel-logout"}}))]
pub struct ClientRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub enabled: Option<bool>,
    pub public_client: Option<bool>,
    pub redirect_uris: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    pub direct_access_grants_enabled: Option<bool>,
    pub standard_flow_enabled: Option<bool>,
    pub service_accounts_enabled: Option<bool>,
    pub frontchannel_logout: Option<bool>,
    /// Epoch seconds.
    pub not_before: Option<i64>,
    /// String-valued settings, as Keycloak keeps them: `backchannel.logout.url`,
    /// `backchannel.logout.session.required`, `backchannel.logout.revoke.offline.tokens`,
    /// `pkce.code.challenge.method` (`S256`, or empty to let a confidential client go without
    /// PKCE), and `admin.api.access` (`true` lets the admin API accept this client's tokens;
    /// only a `realm-admin` changes it).
    pub attributes: Option<BTreeMap<String, String>>,
}

impl From<&Client> for ClientRepresentation {
    fn from(c: &Client) -> Self {
        let mut attributes = BTreeMap::new();
        if let Some(url) = &c.backchannel_logout_url {
            attributes.insert(BACKCHANNEL_URL.to_owned(), url.clone());
        }
        attributes.insert(BACKCHANNEL_SESSION.to_owned(), c.backchannel_logout_session_required.to_string());
        attributes.insert(BACKCHANNEL_OFFLINE.to_owned(), c.backchannel_logout_revoke_offline.to_string());
        if c.pkce_required {
            attributes.insert(PKCE.to_owned(), "S256".to_owned());
        }
        attributes.insert(ADMIN_API.to_owned(), c.admin_api_access.to_string());
        ClientRepresentation {
            id: Some(c.id.to_string()),
            client_id: Some(c.client_id.clone()),
            name: c.name.clone(),
            protocol: Some(c.protocol.as_str().to_owned()),
            enabled: Some(c.enabled),
            public_client: Some(c.is_public()),
            redirect_uris: Some(c.redirect_uris.clone()),
            web_origins: Some(c.web_origins.clone()),
            root_url: c.root_url.clone(),
            base_url: c.base_url.clone(),
            admin_url: c.admin_url.clone(),
            direct_access_grants_enabled: Some(c.direct_access_grants),
            standard_flow_enabled: Some(c.standard_flow),
            service_accounts_enabled: Some(c.service_accounts),
            frontchannel_logout: Some(c.frontchannel_logout),
            not_before: Some(c.not_before),
            attributes: Some(attributes),
        }
    }
}

/// Refuses a client write the administrator may not make: notification URLs the server's
/// target policy refuses (the resolved address is checked again at each delivery); in the
/// master realm every client write needs `admin` (a client there — its redirect URIs above
/// all — reaches every realm's administrators). Any write to a client whose tokens the admin
/// API accepts, before or after the change (its redirect URIs, origins, secret, flows, name,
/// deletion, or the property itself), needs `realm-admin`: a client manager who could point
/// such a client at an address of theirs would receive an administrator's token.
fn may_write(at: &InRealm<ManageClients>, before: Option<&Client>, after: &Client) -> Result<(), ApiError> {
    let (life, admin, realm) = (&at.life, &at.admin, &at.realm);
    for (field, url) in
        [("adminUrl", &after.admin_url), ("attributes.backchannel.logout.url", &after.backchannel_logout_url)]
    {
        if let Some(parsed) = url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
            life.config.targets.check_url(&parsed).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))?;
        }
    }
    if realm.is_master() {
        admin.require(AdminRole::Admin)?;
    }
    if after.admin_api_access || before.is_some_and(|c| c.admin_api_access) {
        admin.require(AdminRole::RealmAdmin).map_err(|_| {
            ApiError::Forbidden(format!(
                "Client {} can call the admin API: changing it needs the 'realm-admin' role",
                before.unwrap_or(after).client_id
            ))
        })?;
    }
    Ok(())
}

/// The names of `admin-cli`, `security-admin-console` and `realm-management` are not taken by
/// another client, nor given up by a rename: trust never follows a name.
fn reserved(client_id: &str) -> Result<(), ApiError> {
    if Client::is_reserved_id(client_id) {
        return Err(ApiError::Conflict(format!(
            "The clientId '{client_id}' is reserved: no client takes it or is renamed out of it"
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientSearch {
    /// Exactly this clientId.
    #[serde(rename = "clientId")]
    #[param(rename = "clientId")]
    client_id: Option<String>,
    /// Index of the first row (from 0).
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 0)]
    first: Option<i64>,
    /// Rows per page; more than 1000 are cut to 1000.
    #[serde(default, deserialize_with = "crate::query::number")]
    #[param(minimum = 0, example = 10)]
    max: Option<i64>,
}

/// The realm's clients, by clientId.
#[utoipa::path(tag = "clients", params(crate::contract::path::InRealm, ClientSearch),
    responses((status = 200, description = "The clients", body = Vec<ClientRepresentation>), (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody)))]
#[get("/admin/realms/{realm}/clients")]
pub async fn list_clients(at: InRealm<ViewClients>, q: Query<ClientSearch>) -> Result<HttpResponse, ApiError> {
    let (first, max) = crate::sessions::page(q.first, q.max, 100)?;
    // The realm's `realm-management` client (see `role_mappings`) is found by its clientId, as
    // scripts find it to grant admin roles; it is not one of the clients a realm lists.
    if q.client_id.as_deref() == Some(MANAGEMENT_CLIENT) {
        let found = if first == 0 && max > 0 { vec![management_client(&at.realm)] } else { Vec::new() };
        return Ok(HttpResponse::Ok().json(found));
    }
    let all = clients::list(at.conn(), at.realm.id).await?;
    let page: Vec<ClientRepresentation> = all
        .iter()
        .filter(|c| q.client_id.as_deref().is_none_or(|id| id == c.client_id))
        .skip(first as usize)
        .take(max as usize)
        .map(ClientRepresentation::from)
        .collect();
    Ok(HttpResponse::Ok().json(page))
}

/// One client.
#[utoipa::path(tag = "clients", params(crate::contract::path::ClientIn),
    responses((status = 200, description = "The client", body = ClientRepresentation),
        (status = 403, description = "Not allowed: needs view-clients", body = ErrorBody), (status = 404, description = "No such realm or client", body = ErrorBody)))]
#[get("/admin/realms/{realm}/clients/{id}")]
pub async fn get_client(at: InRealm<ViewClients>) -> Result<HttpResponse, ApiError> {
    if at.path("id").parse::<uuid::Uuid>().is_ok_and(|id| id == management_client_id(at.realm.id)) {
        return Ok(HttpResponse::Ok().json(management_client(&at.realm)));
    }
    Ok(HttpResponse::Ok().json(ClientRepresentation::from(&at.client().await?)))
}

/// A secret shown once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "secret", "value": "Zk3q9H0x2mB7cV1nL5sT8wR4yP6uJ0aE"}))]
pub struct GeneratedSecret {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Creates a client; 201 with its address in `Location`. A confidential client sent without
/// a secret gets a generated one, returned in the body this once; otherwise the body is `null`.
#[utoipa::path(tag = "clients", params(crate::contract::path::InRealm), request_body = NewClient,
    responses((status = 201, description = "Created", body = Option<GeneratedSecret>, headers(("Location" = String, description = "The new client's URL"))),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not allowed: needs manage-clients (realm-admin for a client whose tokens the admin API accepts; admin in master)", body = ErrorBody), (status = 409, description = "The clientId is taken or reserved", body = ErrorBody)))]
#[post("/admin/realms/{realm}/clients")]
pub async fn create_client(at: InRealm<ManageClients>, body: Json<NewClient>) -> Result<HttpResponse, ApiError> {
    let sent = at.action(Operation::Create, Resource::Client, String::new()).sent(&*body);
    let NewClient { client_id, mut settings } = body.into_inner();
    reserved(&client_id)?;
    let protocol = settings.protocol.map_or(Protocol::OpenIdConnect, Protocol::from);
    let mut client = Client::new(at.realm.id, &client_id, protocol, Timestamp::now()).map_err(bad)?;
    if settings.public_client.is_none() {
        settings.public_client = Some(settings.secret.is_none());
    }
    let generated = apply(&mut client, settings).await?;
    may_write(&at, None, &client)?;
    let txn = at.life.store.begin().await?;
    clients::insert(&txn, &client).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("Client {client_id} already exists")),
        other => other.into(),
    })?;
    at.commit(txn, &AdminAction { path: format!("clients/{}", client.id), ..sent }).await?;
    let mut answer = HttpResponse::Created();
    answer.insert_header(("Location", at.location(&format!("clients/{}", client.id))));
    Ok(match generated {
        Some(value) => answer.json(GeneratedSecret { kind: "secret".into(), value }),
        None => answer.json(serde_json::Value::Null),
    })
}

/// Changes the fields present. Disabling a client kills its tokens at once and removes its
/// client sessions behind the request, telling it about each.
#[utoipa::path(tag = "clients", params(crate::contract::path::ClientIn), request_body = ClientUpdate,
    responses((status = 204, description = "Updated"), (status = 400, description = "A field is invalid", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-clients (realm-admin for a client whose tokens the admin API accepts; admin in master)", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody),
        (status = 409, description = "The clientId is taken or reserved (renames into or out of `admin-cli`, `security-admin-console`, `realm-management`), or the change does not fit the client as it is (a public client cannot have a service account)", body = ErrorBody)))]
#[put("/admin/realms/{realm}/clients/{id}")]
pub async fn update_client(at: InRealm<ManageClients>, body: Json<ClientUpdate>) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    let mut updated = client.clone();
    let r = body.into_inner();
    let action = at.action(Operation::Update, Resource::Client, format!("clients/{}", client.id)).sent(&r);
    if let Some(new_id) = r.client_id {
        if new_id != client.client_id {
            reserved(&new_id)?;
            reserved(&client.client_id)?;
        }
        latchkey_domain::Client::new(at.realm.id, &new_id, client.protocol, client.created_at).map_err(bad)?;
        updated.client_id = new_id;
    }
    apply(&mut updated, r.settings).await?;
    may_write(&at, Some(&client), &updated)?;
    at.life.update_client(&at.realm, &client, &updated, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a client after telling it about each of its sessions.
#[utoipa::path(tag = "clients", params(crate::contract::path::ClientIn),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed: needs manage-clients (realm-admin for a client whose tokens the admin API accepts; admin in master)", body = ErrorBody), (status = 404, description = "No such realm or client", body = ErrorBody)))]
#[delete("/admin/realms/{realm}/clients/{id}")]
pub async fn delete_client(at: InRealm<ManageClients>) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    may_write(&at, Some(&client), &client)?;
    let action = at.action(Operation::Delete, Resource::Client, format!("clients/{}", client.id));
    at.life.delete_client(&at.realm, &client, Some(&action)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Generates a new secret for a confidential client and shows it, this once.
#[utoipa::path(tag = "clients", params(crate::contract::path::ClientIn),
    responses((status = 200, description = "The new secret", body = GeneratedSecret), (status = 409, description = "The client is public: it has no secret", body = ErrorBody), (status = 403, description = "Not allowed: needs manage-clients (realm-admin for a client whose tokens the admin API accepts; admin in master)", body = ErrorBody),
        (status = 404, description = "No such realm or client", body = ErrorBody)))]
#[post("/admin/realms/{realm}/clients/{id}/client-secret")]
pub async fn regenerate_secret(at: InRealm<ManageClients>) -> Result<HttpResponse, ApiError> {
    let client = at.client().await?;
    may_write(&at, Some(&client), &client)?;
    if client.is_public() {
        return Err(ApiError::Conflict("A public client has no secret".into()));
    }
    let secret = Secret::generate();
    let value = secret.expose().to_owned();
    let hash = web::block(move || secret.hash()).await.map_err(bad)?.map_err(bad)?;
    let updated = Client { kind: ClientKind::Confidential { secret: hash }, ..client.clone() };
    let action = at.action(Operation::Action, Resource::Client, format!("clients/{}/client-secret", client.id));
    at.life.update_client(&at.realm, &client, &updated, Some(&action)).await?;
    Ok(HttpResponse::Ok().json(GeneratedSecret { kind: "secret".into(), value }))
}
