//! Clients: the applications people sign in to.

use std::fmt;
use std::str::FromStr;

use crate::{ClientId, DomainError, PasswordHash, RealmId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    OpenIdConnect,
    Saml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenIdConnect => "openid-connect",
            Protocol::Saml => "saml",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "openid-connect" => Ok(Protocol::OpenIdConnect),
            "saml" => Ok(Protocol::Saml),
            other => Err(DomainError::invalid("protocol", format!("'{other}' is not one of 'openid-connect', 'saml'"))),
        }
    }
}

/// Whether a client proves who it is. Public clients (SPAs, CLIs) cannot keep a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKind {
    Public,
    Confidential { secret: PasswordHash },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub realm_id: RealmId,
    /// The `clientId` applications present; unique within the realm.
    pub client_id: String,
    pub name: Option<String>,
    pub protocol: Protocol,
    pub enabled: bool,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub root_url: Option<String>,
    pub base_url: Option<String>,
    /// Where Keycloak-style adapters receive `k_logout` and `k_push_not_before`.
    pub admin_url: Option<String>,
    /// OIDC Back-Channel Logout endpoint.
    pub backchannel_logout_url: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub backchannel_logout_revoke_offline: bool,
    pub frontchannel_logout: bool,
    pub direct_access_grants: bool,
    pub standard_flow: bool,
    pub service_accounts: bool,
    /// Requires PKCE with S256 on the authorization endpoint: always so for public clients,
    /// and on for new confidential clients unless switched off.
    pub pkce_required: bool,
    /// Whether access tokens issued to this client are accepted by the admin API: on for a
    /// realm's `admin-cli` and `security-admin-console` when they are made, off for every other
    /// client until a `realm-admin` turns it on. Never inferred from the `clientId`, which a
    /// client manager can change; a client's own service account is accepted without it.
    pub admin_api_access: bool,
    /// Revocation policy for this client's sessions and tokens, epoch seconds; 0 means none.
    pub not_before: i64,
    pub created_at: Timestamp,
}

/// The clientId of the scripted-administration client every realm has.
pub const ADMIN_CLI: &str = "admin-cli";
/// The clientId of the admin console's client every realm has.
pub const ADMIN_CONSOLE: &str = "security-admin-console";
/// The clientId of the client holding a realm's admin roles (Keycloak's `realm-management`).
pub const MANAGEMENT_CLIENT: &str = "realm-management";
/// Names no client may take or give up by a rename: the clients that reach the admin API by
/// design, and the admin roles' client.
pub const RESERVED_CLIENT_IDS: [&str; 3] = [ADMIN_CLI, ADMIN_CONSOLE, MANAGEMENT_CLIENT];

impl Client {
    /// The clients every realm starts with, as in Keycloak: `admin-cli` (public, direct access
    /// grants only, for scripts) and `security-admin-console` (public, code flow with PKCE,
    /// redirecting to the console at `/console/` on this server).
    pub fn realm_defaults(realm_id: RealmId, now: Timestamp) -> Result<[Client; 2], DomainError> {
        let mut cli = Client::new(realm_id, ADMIN_CLI, Protocol::OpenIdConnect, now)?;
        cli.name = Some("Command-line and scripted administration".into());
        cli.direct_access_grants = true;
        cli.standard_flow = false;
        cli.admin_api_access = true;
        let mut console = Client::new(realm_id, ADMIN_CONSOLE, Protocol::OpenIdConnect, now)?;
        console.name = Some("Latchkey admin console".into());
        console.pkce_required = true;
        console.redirect_uris = vec!["/console/*".into()];
        console.web_origins = vec!["+".into()];
        console.base_url = Some("/console/".into());
        console.admin_api_access = true;
        cli.validate()?;
        console.validate()?;
        Ok([cli, console])
    }

    /// A new enabled public OIDC-or-SAML client using the standard flow (PKCE required), with
    /// no URLs yet.
    pub fn new(realm_id: RealmId, client_id: &str, protocol: Protocol, now: Timestamp) -> Result<Self, DomainError> {
        crate::error::check_name("clientId", client_id, 255)?;
        Ok(Client {
            id: ClientId::new(),
            realm_id,
            client_id: client_id.to_owned(),
            name: None,
            protocol,
            enabled: true,
            kind: ClientKind::Public,
            redirect_uris: Vec::new(),
            web_origins: Vec::new(),
            root_url: None,
            base_url: None,
            admin_url: None,
            backchannel_logout_url: None,
            backchannel_logout_session_required: true,
            backchannel_logout_revoke_offline: false,
            frontchannel_logout: false,
            direct_access_grants: false,
            standard_flow: true,
            service_accounts: false,
            pkce_required: true,
            admin_api_access: false,
            not_before: 0,
            created_at: now,
        })
    }

    pub fn is_public(&self) -> bool {
        matches!(self.kind, ClientKind::Public)
    }

    /// Whether the admin API accepts tokens issued to this client: its own property, which
    /// only a `realm-admin` sets (a client's service account holding admin roles is accepted
    /// too; that is decided where the user is known).
    pub fn may_call_admin_api(&self) -> bool {
        self.admin_api_access
    }

    /// Whether `client_id` is one of the names no client takes or gives up by a rename.
    pub fn is_reserved_id(client_id: &str) -> bool {
        RESERVED_CLIENT_IDS.contains(&client_id)
    }

    /// Checks everything that can be wrong with a client as a whole.
    pub fn validate(&self) -> Result<(), DomainError> {
        crate::error::check_name("clientId", &self.client_id, 255)?;
        for uri in &self.redirect_uris {
            crate::uri::check_redirect_uri("redirectUris", uri)?;
        }
        for origin in &self.web_origins {
            crate::uri::check_origin("webOrigins", origin)?;
        }
        let single = [
            ("rootUrl", &self.root_url),
            ("adminUrl", &self.admin_url),
            ("backchannel.logout.url", &self.backchannel_logout_url),
        ];
        for (field, value) in single {
            if let Some(url) = value {
                crate::uri::check_url(field, url)?;
            }
        }
        if self.service_accounts && self.is_public() {
            return Err(DomainError::invalid(
                "serviceAccountsEnabled",
                "a public client cannot have a service account",
            ));
        }
        if self.not_before < 0 {
            return Err(DomainError::invalid("notBefore", "must not be negative"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::new(RealmId::new(), "web", Protocol::OpenIdConnect, Timestamp::from_secs(1)).unwrap()
    }

    #[test]
    fn protocols_parse() {
        assert_eq!("saml".parse::<Protocol>().unwrap(), Protocol::Saml);
        assert_eq!(Protocol::OpenIdConnect.to_string(), "openid-connect");
        assert!("cas".parse::<Protocol>().is_err());
    }

    #[test]
    fn urls_are_checked() {
        let mut c = client();
        c.redirect_uris = vec!["https://app.example/cb".into(), "http://localhost:3000/*".into()];
        c.web_origins = vec!["+".into(), "https://app.example".into()];
        c.backchannel_logout_url = Some("http://127.0.0.1:9000/logout".into());
        assert!(c.validate().is_ok());

        c.redirect_uris.push("/console/*".into());
        assert!(c.validate().is_ok(), "a path alone is resolved against the root URL");
        c.redirect_uris.push("relative/cb".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.starts_with("redirectUris:"), "{err}");

        let mut c = client();
        c.admin_url = Some("ftp://x".into());
        assert!(c.validate().is_err());
        let mut c = client();
        c.redirect_uris = vec!["https://a/cb#frag".into()];
        assert!(c.validate().is_err());
        c.redirect_uris = vec!["//evil.example/cb".into()];
        assert!(c.validate().is_err());
        c.redirect_uris = vec!["/cb#frag".into()];
        assert!(c.validate().is_err());
        let mut c = client();
        c.root_url = Some("https://a/*".into());
        assert!(c.validate().is_err(), "wildcards only in redirect URIs");
    }

    #[test]
    fn public_clients_have_no_service_account() {
        let mut c = client();
        c.service_accounts = true;
        assert!(c.validate().is_err());
        c.kind = ClientKind::Confidential { secret: crate::Secret::new("s").hash().unwrap() };
        assert!(c.validate().is_ok());
    }
}
