//! What a client create or update carries ([`NewClient`], [`ClientUpdate`], both
//! [`ClientSettings`] and a `clientId`), what the contract says of each field, and how the
//! fields present are applied to a client.

use std::collections::BTreeMap;

use actix_web::web;
use latchkey_domain::{Client, ClientKind, Protocol, Secret};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::{Modify, ToSchema};

use crate::error::ApiError;
use crate::input::{self, UrlKind};

pub(crate) const BACKCHANNEL_URL: &str = "backchannel.logout.url";
pub(crate) const BACKCHANNEL_SESSION: &str = "backchannel.logout.session.required";
pub(crate) const BACKCHANNEL_OFFLINE: &str = "backchannel.logout.revoke.offline.tokens";
pub(crate) const PKCE: &str = "pkce.code.challenge.method";
pub(crate) const ADMIN_API: &str = "admin.api.access";

/// The fields of a client to set; absent (or `null`) ones stay as they are. Keycloak's
/// `ClientRepresentation`, in part.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSettings {
    /// Empty for none.
    pub name: Option<String>,
    /// `openid-connect` (the default on creation) or `saml`.
    #[schema(inline)]
    pub protocol: Option<ProtocolName>,
    pub enabled: Option<bool>,
    /// A public client has no secret. On creation the default is public unless a `secret` is
    /// given. A public client cannot have a service account.
    pub public_client: Option<bool>,
    /// The secret of a confidential client (accepted, never returned). A confidential client
    /// created without one gets a generated secret, shown once in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(write_only, min_length = 1, max_length = 1024)]
    pub secret: Option<String>,
    #[schema(schema_with = input::redirect_uris_schema)]
    pub redirect_uris: Option<Vec<String>>,
    #[schema(schema_with = input::web_origins_schema)]
    pub web_origins: Option<Vec<String>>,
    #[schema(schema_with = input::root_url_schema)]
    pub root_url: Option<String>,
    /// Where the console links to; empty for none.
    pub base_url: Option<String>,
    #[schema(schema_with = input::admin_url_schema)]
    pub admin_url: Option<String>,
    pub direct_access_grants_enabled: Option<bool>,
    pub standard_flow_enabled: Option<bool>,
    /// Only for a confidential client.
    pub service_accounts_enabled: Option<bool>,
    pub frontchannel_logout: Option<bool>,
    /// The client's revocation policy, epoch seconds; 0 for none.
    #[serde(default, deserialize_with = "input::whole")]
    #[schema(minimum = 0)]
    pub not_before: Option<i64>,
    #[schema(schema_with = attributes_schema)]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A client's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ProtocolName {
    #[serde(rename = "openid-connect")]
    OpenIdConnect,
    #[serde(rename = "saml")]
    Saml,
}

impl From<ProtocolName> for Protocol {
    fn from(p: ProtocolName) -> Self {
        match p {
            ProtocolName::OpenIdConnect => Protocol::OpenIdConnect,
            ProtocolName::Saml => Protocol::Saml,
        }
    }
}

/// A client to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"clientId": "web", "protocol": "openid-connect", "publicClient": false, "secret": "change-me",
    "redirectUris": ["https://app.example/callback"], "attributes": {"backchannel.logout.url": "https://app.example/backchannel-logout"}}))]
pub struct NewClient {
    #[schema(schema_with = client_id_schema)]
    pub client_id: String,
    #[serde(flatten)]
    pub settings: ClientSettings,
}

/// The fields of a client to change (absent ones stay as they are). A representation read
/// from the API may be sent back whole: `id` is ignored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"redirectUris": ["https://app.example/callback", "https://app.example/silent"], "enabled": true}))]
pub struct ClientUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub id: Option<String>,
    #[schema(schema_with = new_client_id_schema)]
    pub client_id: Option<String>,
    #[serde(flatten)]
    pub settings: ClientSettings,
}

fn client_id_schema() -> Schema {
    input::name_schema("What applications present as `client_id`; unique in the realm.", false)
}

fn new_client_id_schema() -> Schema {
    input::name_schema("A new clientId; unique in the realm.", true)
}

/// `attributes`: string-valued settings, as Keycloak keeps them. Others are accepted and ignored.
fn attributes_schema() -> Schema {
    let flag = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["true", "false", ""]))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some("String-valued settings, as Keycloak keeps them; other keys are ignored."))
        .property(BACKCHANNEL_URL, input::backchannel_url_schema())
        .property(BACKCHANNEL_SESSION, flag("Whether back-channel logout tokens carry `sid`; empty leaves it."))
        .property(BACKCHANNEL_OFFLINE, flag("Whether back-channel logout ends offline sessions too; empty leaves it."))
        .property(
            PKCE,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["S256", ""]))
                .description(Some("`S256` requires PKCE; empty lets a confidential client go without it.")),
        )
        .property(
            ADMIN_API,
            flag("`true` lets the admin API accept this client's tokens (only a `realm-admin` changes it)."),
        )
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .into()
}

/// Adds to `NewClient` and `ClientUpdate` what the contract can say of a client as a whole: a
/// public client cannot have a service account. A request that says both is invalid, and so
/// is a creation that makes the client public by giving neither `publicClient` nor a `secret`.
/// (An update that would give an already public client a service account, or make one with a
/// service account public, is refused with 409: only the client's state makes it wrong.)
pub struct PublicClientRule;

impl Modify for PublicClientRule {
    fn modify(&self, openapi: &mut OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        let with_account = json!({"const": true});
        let said_public = json!({"required": ["serviceAccountsEnabled", "publicClient"],
            "properties": {"serviceAccountsEnabled": with_account, "publicClient": {"const": true}}});
        let made_public = json!({"required": ["serviceAccountsEnabled"],
            "properties": {"serviceAccountsEnabled": with_account, "publicClient": {"type": "null"},
                           "secret": {"type": "null"}}});
        for (name, rule) in
            [("NewClient", json!({"anyOf": [said_public, made_public]})), ("ClientUpdate", said_public.clone())]
        {
            let Some(RefOr::T(Schema::AllOf(all_of))) = components.schemas.get_mut(name) else { continue };
            let not = utoipa::openapi::extensions::Extensions::from_iter([("not", rule)]);
            all_of
                .items
                .push(ObjectBuilder::new().schema_type(SchemaType::AnyValue).extensions(Some(not)).build().into());
        }
    }
}

pub(crate) fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

fn flag(attributes: &BTreeMap<String, String>, key: &str) -> Result<Option<bool>, ApiError> {
    match attributes.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::BadRequest(format!("attributes.{key}: '{other}' is not true or false"))),
    }
}

/// Refuses a URL field whose value does not match the contract's pattern for it.
fn check_urls(r: &ClientSettings) -> Result<(), ApiError> {
    for uri in r.redirect_uris.iter().flatten() {
        UrlKind::Redirect.check("redirectUris", uri)?;
    }
    for origin in r.web_origins.iter().flatten() {
        UrlKind::Origin.check("webOrigins", origin)?;
    }
    if let Some(url) = &r.root_url {
        UrlKind::Endpoint.check("rootUrl", url)?;
    }
    if let Some(url) = &r.admin_url {
        UrlKind::Notification.check("adminUrl", url)?;
    }
    if let Some(url) = r.attributes.as_ref().and_then(|a| a.get(BACKCHANNEL_URL)) {
        UrlKind::Notification.check("attributes.backchannel.logout.url", url)?;
    }
    Ok(())
}

/// Applies the fields present to `client`; returns a newly generated secret, if one was made.
pub(crate) async fn apply(client: &mut Client, r: ClientSettings) -> Result<Option<String>, ApiError> {
    let empty_none = |v: Option<String>| v.filter(|s| !s.is_empty());
    // Checked now, answered after the domain's own checks, whose messages say more.
    let patterns = check_urls(&r);
    let public_with_account = r.public_client == Some(true) && r.service_accounts_enabled == Some(true);
    if let Some(secret) = &r.secret {
        if secret.is_empty() || secret.chars().count() > 1024 {
            return Err(ApiError::BadRequest("secret: must be 1 to 1024 characters".into()));
        }
    }
    if let Some(name) = r.name {
        client.name = (!name.is_empty()).then_some(name);
    }
    if let Some(protocol) = r.protocol {
        client.protocol = protocol.into();
    }
    if let Some(v) = r.enabled {
        client.enabled = v;
    }
    if let Some(v) = r.redirect_uris {
        client.redirect_uris = v;
    }
    if let Some(v) = r.web_origins {
        client.web_origins = v;
    }
    if r.root_url.is_some() {
        client.root_url = empty_none(r.root_url);
    }
    if r.base_url.is_some() {
        client.base_url = empty_none(r.base_url);
    }
    if r.admin_url.is_some() {
        client.admin_url = empty_none(r.admin_url);
    }
    if let Some(v) = r.direct_access_grants_enabled {
        client.direct_access_grants = v;
    }
    if let Some(v) = r.standard_flow_enabled {
        client.standard_flow = v;
    }
    if let Some(v) = r.service_accounts_enabled {
        client.service_accounts = v;
    }
    if let Some(v) = r.frontchannel_logout {
        client.frontchannel_logout = v;
    }
    if let Some(v) = r.not_before {
        client.not_before = v;
    }
    if let Some(attributes) = &r.attributes {
        if let Some(url) = attributes.get(BACKCHANNEL_URL) {
            client.backchannel_logout_url = (!url.is_empty()).then(|| url.clone());
        }
        if let Some(v) = flag(attributes, BACKCHANNEL_SESSION)? {
            client.backchannel_logout_session_required = v;
        }
        if let Some(v) = flag(attributes, BACKCHANNEL_OFFLINE)? {
            client.backchannel_logout_revoke_offline = v;
        }
        if let Some(v) = flag(attributes, ADMIN_API)? {
            client.admin_api_access = v;
        }
        match attributes.get(PKCE).map(String::as_str) {
            None => {}
            Some("S256") => client.pkce_required = true,
            Some("") => client.pkce_required = false,
            Some(other) => return Err(ApiError::BadRequest(format!("attributes.{PKCE}: '{other}' is not S256"))),
        }
    }
    let mut generated = None;
    match (r.public_client, r.secret) {
        (Some(true), _) => client.kind = ClientKind::Public,
        (public, Some(secret)) if public == Some(false) || !client.is_public() => {
            let hash = web::block(move || Secret::new(secret).hash()).await.map_err(bad)?.map_err(bad)?;
            client.kind = ClientKind::Confidential { secret: hash };
        }
        (Some(false), None) if client.is_public() => {
            let secret = Secret::generate();
            generated = Some(secret.expose().to_owned());
            let hash = web::block(move || secret.hash()).await.map_err(bad)?.map_err(bad)?;
            client.kind = ClientKind::Confidential { secret: hash };
        }
        _ => {}
    }
    if client.is_public() && client.service_accounts && !public_with_account {
        // Wrong only because of what the client already is (public, or with a service account).
        return Err(ApiError::Conflict("serviceAccountsEnabled: a public client cannot have a service account".into()));
    }
    client.validate().map_err(bad)?;
    patterns?;
    Ok(generated)
}
