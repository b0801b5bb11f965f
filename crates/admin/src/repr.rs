//! Keycloak's JSON representations, exactly as its clients read them.

use std::collections::BTreeMap;

use latchkey_domain::Realm;
use latchkey_store::listing::ListedSession;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Keycloak's `UserSessionRepresentation`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2", "username": "alice",
    "userId": "0c6f5b7e-4f4e-4f55-9d59-0f1c8a7b2f10", "ipAddress": "10.1.2.3", "start": 1764270000000_i64,
    "lastAccess": 1764270420000_i64, "rememberMe": false,
    "clients": {"3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b": "web"}, "transientUser": false}))]
pub struct UserSessionRepresentation {
    pub id: String,
    pub username: String,
    pub user_id: String,
    pub ip_address: String,
    /// Epoch milliseconds.
    pub start: i64,
    /// Epoch milliseconds.
    pub last_access: i64,
    pub remember_me: bool,
    /// Client UUID → clientId.
    pub clients: BTreeMap<String, String>,
    pub transient_user: bool,
}

/// One row of the realm-wide session list (Keycloak's admin console `ui-ext` shape).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2", "username": "alice",
    "userId": "0c6f5b7e-4f4e-4f55-9d59-0f1c8a7b2f10", "ipAddress": "10.1.2.3", "start": 1764270000000_i64,
    "lastAccess": 1764270420000_i64, "type": "REGULAR",
    "clients": {"3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b": "web"}, "transientUser": false}))]
pub struct SessionRepresentation {
    pub id: String,
    pub username: String,
    pub user_id: String,
    pub ip_address: String,
    pub start: i64,
    pub last_access: i64,
    /// `REGULAR` or `OFFLINE`.
    #[serde(rename = "type")]
    pub session_type: String,
    pub clients: BTreeMap<String, String>,
    pub transient_user: bool,
}

fn clients(listed: &ListedSession) -> BTreeMap<String, String> {
    listed.clients.iter().map(|(id, name)| (id.to_string(), name.clone())).collect()
}

impl UserSessionRepresentation {
    /// `last_access_from_client`: the client session's own time (Keycloak's offline lists).
    pub fn from_listed(listed: &ListedSession, last_access_from_client: bool) -> Self {
        let s = &listed.session;
        let last_access = match (last_access_from_client, listed.client_last_refresh) {
            (true, Some(t)) => t.as_millis(),
            _ => s.last_access.as_millis(),
        };
        UserSessionRepresentation {
            id: s.public_id().to_string(),
            username: listed.username.clone(),
            user_id: s.user_id.to_string(),
            ip_address: s.ip_address.clone(),
            start: s.started_at.as_millis(),
            last_access,
            remember_me: s.remember_me,
            clients: clients(listed),
            transient_user: false,
        }
    }
}

impl From<&ListedSession> for SessionRepresentation {
    fn from(listed: &ListedSession) -> Self {
        let s = &listed.session;
        SessionRepresentation {
            id: s.public_id().to_string(),
            username: listed.username.clone(),
            user_id: s.user_id.to_string(),
            ip_address: s.ip_address.clone(),
            start: s.started_at.as_millis(),
            last_access: s.last_access.as_millis(),
            session_type: s.session_type.as_str().to_owned(),
            clients: clients(listed),
            transient_user: false,
        }
    }
}

/// One entry of `client-session-stats`: Keycloak sends every value as a string.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b", "clientId": "web", "active": "3", "offline": "0"}))]
pub struct ClientSessionStats {
    pub id: String,
    pub client_id: String,
    pub active: String,
    pub offline: String,
}

/// `{"count": n}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"count": 3}))]
pub struct Count {
    pub count: u64,
}

/// Keycloak's `GlobalRequestResult`, plus what Keycloak leaves out: deliveries still under way
/// when the answer was given, and clients that cannot be told (SAML). Empty lists are omitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"successRequests": ["http://app/admin/k_logout"]}))]
pub struct GlobalRequestResult {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success_requests: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_requests: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_requests: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_notified_clients: Vec<String>,
}

impl From<latchkey_lifecycle::ending::GlobalRequestResult> for GlobalRequestResult {
    fn from(r: latchkey_lifecycle::ending::GlobalRequestResult) -> Self {
        GlobalRequestResult {
            success_requests: r.success_requests,
            failed_requests: r.failed_requests,
            pending_requests: r.pending_requests,
            not_notified_clients: r.not_notified_clients,
        }
    }
}

/// The realm fields the console and scripts read (Keycloak's `RealmRepresentation`, in part).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "5b0f4c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", "realm": "demo", "displayName": "Demo",
    "enabled": true, "notBefore": 0, "ssoSessionIdleTimeout": 1800, "ssoSessionMaxLifespan": 36000,
    "ssoSessionIdleTimeoutRememberMe": 0, "ssoSessionMaxLifespanRememberMe": 0, "offlineSessionIdleTimeout": 2592000,
    "offlineSessionMaxLifespanEnabled": false, "offlineSessionMaxLifespan": 5184000, "accessTokenLifespan": 300,
    "defaultSignatureAlgorithm": "RS256", "rememberMe": false}))]
pub struct RealmRepresentation {
    pub id: String,
    pub realm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub enabled: bool,
    /// Epoch seconds; 0 when no revocation policy is set.
    pub not_before: i64,
    pub sso_session_idle_timeout: i64,
    pub sso_session_max_lifespan: i64,
    pub sso_session_idle_timeout_remember_me: i64,
    pub sso_session_max_lifespan_remember_me: i64,
    pub offline_session_idle_timeout: i64,
    pub offline_session_max_lifespan_enabled: bool,
    pub offline_session_max_lifespan: i64,
    pub access_token_lifespan: i64,
    /// `RS256` or `ES256`.
    pub default_signature_algorithm: String,
    /// Whether the sign-in page offers "Remember me".
    pub remember_me: bool,
}

impl From<&Realm> for RealmRepresentation {
    fn from(r: &Realm) -> Self {
        RealmRepresentation {
            id: r.id.to_string(),
            realm: r.name.clone(),
            display_name: r.display_name.clone(),
            enabled: r.enabled,
            not_before: r.not_before,
            sso_session_idle_timeout: r.limits.sso_idle,
            sso_session_max_lifespan: r.limits.sso_max,
            sso_session_idle_timeout_remember_me: r.limits.sso_idle_remember_me,
            sso_session_max_lifespan_remember_me: r.limits.sso_max_remember_me,
            offline_session_idle_timeout: r.limits.offline_idle,
            offline_session_max_lifespan_enabled: r.limits.offline_max_enabled,
            offline_session_max_lifespan: r.limits.offline_max,
            access_token_lifespan: r.access_token_lifespan,
            default_signature_algorithm: r.signature_algorithm.as_str().to_owned(),
            remember_me: r.remember_me,
        }
    }
}

/// A partial realm update: only the fields present (and not `null`) are applied. Whole
/// numbers may be written `300.0`. `notBefore` may be fractional (the Keycloak console sends
/// `Date.now() / 1000`); it is truncated to whole seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"notBefore": 1764270000}))]
pub struct RealmUpdate {
    /// Empty for none.
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
    /// Epoch seconds: tokens and sessions from before it are refused; 0 clears it.
    #[schema(minimum = 0)]
    pub not_before: Option<f64>,
    /// Seconds.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 1, maximum = 315360000)]
    pub sso_session_idle_timeout: Option<i64>,
    /// Seconds.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 1, maximum = 315360000)]
    pub sso_session_max_lifespan: Option<i64>,
    /// Seconds; 0 for the same as `ssoSessionIdleTimeout`.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 0, maximum = 315360000)]
    pub sso_session_idle_timeout_remember_me: Option<i64>,
    /// Seconds; 0 for the same as `ssoSessionMaxLifespan`.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 0, maximum = 315360000)]
    pub sso_session_max_lifespan_remember_me: Option<i64>,
    /// Seconds.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 1, maximum = 315360000)]
    pub offline_session_idle_timeout: Option<i64>,
    pub offline_session_max_lifespan_enabled: Option<bool>,
    /// Seconds.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 1, maximum = 315360000)]
    pub offline_session_max_lifespan: Option<i64>,
    /// Seconds.
    #[serde(default, deserialize_with = "crate::input::whole")]
    #[schema(minimum = 1, maximum = 86400)]
    pub access_token_lifespan: Option<i64>,
    #[schema(inline)]
    pub default_signature_algorithm: Option<SignatureAlgorithm>,
    /// Whether the sign-in page offers "Remember me" (a persistent SSO cookie, and the
    /// remember-me limits for the sessions that chose it).
    pub remember_me: Option<bool>,
}

/// How a realm signs its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SignatureAlgorithm {
    RS256,
    ES256,
}

impl From<SignatureAlgorithm> for latchkey_domain::SigningAlgorithm {
    fn from(a: SignatureAlgorithm) -> Self {
        match a {
            SignatureAlgorithm::RS256 => latchkey_domain::SigningAlgorithm::Rs256,
            SignatureAlgorithm::ES256 => latchkey_domain::SigningAlgorithm::Es256,
        }
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::realm::{MAX_ACCESS_TOKEN_SECS, MAX_SESSION_SECS};
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::PartialSchema;

    /// The bounds the contract gives are the domain's.
    #[test]
    fn lifespan_bounds_are_the_domains() {
        let RefOr::T(Schema::Object(update)) = super::RealmUpdate::schema() else { panic!("an object") };
        let maximum = |field: &str| match &update.properties[field] {
            RefOr::T(Schema::Object(o)) => o.maximum.clone().map(|m| serde_json::to_value(m).unwrap()),
            _ => None,
        };
        assert_eq!(maximum("ssoSessionIdleTimeout"), Some(MAX_SESSION_SECS.into()));
        assert_eq!(maximum("ssoSessionMaxLifespanRememberMe"), Some(MAX_SESSION_SECS.into()));
        assert_eq!(maximum("offlineSessionMaxLifespan"), Some(MAX_SESSION_SECS.into()));
        assert_eq!(maximum("accessTokenLifespan"), Some(MAX_ACCESS_TOKEN_SECS.into()));
    }
}
