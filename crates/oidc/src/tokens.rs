//! Issuing tokens: scopes, the token response of a grant, ID tokens, refresh tokens and the
//! offline session `offline_access` starts. What a token says and how a presented one is
//! judged live in [`latchkey_lifecycle::tokens`].

use std::collections::BTreeMap;

use latchkey_domain::{AdminRole, Client, Realm, SessionType, Timestamp, User, UserSession};
use latchkey_lifecycle::jose;
use latchkey_lifecycle::keys::Alg;
use latchkey_lifecycle::signin::new_client_session;
use latchkey_lifecycle::{Lifecycle, RealmCtx};
use latchkey_store::{sessions, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

pub use latchkey_lifecycle::tokens::{
    active_access_token, active_refresh_token, verify, AccessClaims, ActiveToken, RefreshClaims, Roles, STALE,
    TYP_BEARER, TYP_OFFLINE, TYP_REFRESH,
};

use crate::error::OAuthError;

/// Scopes a client may ask for. `profile` and `email` are always granted, as Keycloak's
/// default client scopes are.
pub const KNOWN_SCOPES: &[&str] =
    &["openid", "profile", "email", "offline_access", "roles", "web-origins", "address", "phone", "acr", "basic"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    pub fn parse(requested: Option<&str>) -> Result<Scopes, OAuthError> {
        let mut scopes: Vec<String> = Vec::new();
        for scope in requested.unwrap_or_default().split_whitespace() {
            if !KNOWN_SCOPES.contains(&scope) {
                return Err(OAuthError::invalid_scope(format!("Invalid scopes: {scope}")));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        for default in ["profile", "email"] {
            if !scopes.iter().any(|s| s == default) {
                scopes.push(default.to_owned());
            }
        }
        Ok(Scopes(scopes))
    }

    pub fn from_stored(stored: &[String]) -> Scopes {
        Scopes(stored.to_vec())
    }

    pub fn has(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn joined(&self) -> String {
        self.0.join(" ")
    }
}

/// The realm-management roles a user holds, as Keycloak puts them in tokens: `admin` of the
/// master realm in `realm_access`, the rest under `resource_access["realm-management"]`.
fn role_claims(roles: &[AdminRole]) -> (Option<Roles>, BTreeMap<String, Roles>) {
    let realm: Vec<String> = roles.iter().filter(|r| **r == AdminRole::Admin).map(|r| r.as_str().to_owned()).collect();
    let management: Vec<String> =
        roles.iter().filter(|r| **r != AdminRole::Admin).map(|r| r.as_str().to_owned()).collect();
    let mut resource = BTreeMap::new();
    if !management.is_empty() {
        resource.insert("realm-management".to_owned(), Roles { roles: management });
    }
    ((!realm.is_empty()).then_some(Roles { roles: realm }), resource)
}

/// What tokens are being issued for.
pub struct Grant<'a> {
    pub user: &'a User,
    pub client: &'a Client,
    /// The session the tokens belong to; `None` for client credentials.
    pub session: Option<&'a UserSession>,
    /// When that session ends unless used (refresh tokens expire then).
    pub session_expires_at: Option<Timestamp>,
    pub scope: &'a Scopes,
    pub nonce: Option<&'a str>,
    /// The refresh token id already made current by rotation; `None` to make a new one.
    pub rotated_refresh_id: Option<String>,
}

fn secs_until(t: Timestamp, now: Timestamp) -> i64 {
    ((t.as_millis() - now.as_millis()) / 1000).max(0)
}

/// Issues the token response of a grant: access token, ID token when `openid` was asked,
/// refresh token when there is a session (offline when `offline_access` was asked).
#[tracing::instrument(skip_all, fields(realm = %ctx.realm.name, client = %grant.client.client_id, user = %grant.user.id))]
pub async fn issue(life: &Lifecycle, ctx: &RealmCtx, grant: Grant<'_>, now: Timestamp) -> Result<Value, OAuthError> {
    let realm = &ctx.realm;
    let user = grant.user;
    let roles = life.catalog.roles(life.store.conn(), user.id).await?;
    let (realm_access, resource_access) = role_claims(&roles);
    let iat = now.as_secs();
    let mut exp = iat + realm.access_token_lifespan;
    if let Some(end) = grant.session_expires_at {
        exp = exp.min(end.as_secs().max(iat + 1));
    }
    let sid = grant.session.map(|s| s.public_id().to_string());
    let access = AccessClaims {
        exp,
        iat,
        jti: Uuid::new_v4().to_string(),
        iss: ctx.issuer.clone(),
        aud: grant.client.client_id.clone(),
        sub: user.id.to_string(),
        typ: TYP_BEARER.into(),
        azp: grant.client.client_id.clone(),
        auth_time: grant.session.map(|s| s.started_at.as_secs()),
        sid: sid.clone(),
        session_state: sid.clone(),
        scope: grant.scope.joined(),
        preferred_username: Some(user.username.clone()),
        email: user.email.clone(),
        realm_access,
        resource_access,
    };
    let signer = ctx
        .keys
        .signer(realm.signature_algorithm.into())
        .ok_or_else(|| OAuthError::server_error("no active signing key"))?;
    let access_token = jose::sign(signer, "JWT", &access).map_err(OAuthError::server_error)?;

    let mut response = json!({
        "access_token": access_token,
        "expires_in": exp - iat,
        "token_type": TYP_BEARER,
        "not-before-policy": realm.not_before,
        "scope": grant.scope.joined(),
    });
    if grant.scope.has("openid") {
        let id_token = id_token(ctx, &grant, &access, &access_token)?;
        response["id_token"] = json!(id_token);
    }
    if let Some(session) = grant.session {
        let (refresh_token, refresh_expires_in) = refresh_token(life, ctx, &grant, session, now).await?;
        response["refresh_token"] = json!(refresh_token);
        response["refresh_expires_in"] = json!(refresh_expires_in);
        response["session_state"] = json!(session.public_id().to_string());
    } else {
        response["refresh_expires_in"] = json!(0);
    }
    Ok(response)
}

fn id_token(
    ctx: &RealmCtx,
    grant: &Grant<'_>,
    access: &AccessClaims,
    access_token: &str,
) -> Result<String, OAuthError> {
    let user = grant.user;
    let name = match (&user.first_name, &user.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    let mut claims = json!({
        "exp": access.exp, "iat": access.iat, "jti": Uuid::new_v4().to_string(), "iss": access.iss,
        "aud": access.aud, "sub": access.sub, "typ": "ID", "azp": access.azp,
        "at_hash": jose::at_hash(access_token),
        "preferred_username": user.username, "email_verified": user.email_verified,
    });
    let optional = [
        ("auth_time", access.auth_time.map(Value::from)),
        ("sid", access.sid.clone().map(Value::from)),
        ("session_state", access.sid.clone().map(Value::from)),
        ("nonce", grant.nonce.map(Value::from)),
        ("email", user.email.clone().map(Value::from)),
        ("name", name.map(Value::from)),
        ("given_name", user.first_name.clone().map(Value::from)),
        ("family_name", user.last_name.clone().map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            claims[key] = value;
        }
    }
    let signer = ctx
        .keys
        .signer(ctx.realm.signature_algorithm.into())
        .ok_or_else(|| OAuthError::server_error("no signing key"))?;
    jose::sign(signer, "JWT", &claims).map_err(OAuthError::server_error)
}

/// The refresh token of a grant. With `offline_access` on a regular session, an offline
/// session is started beside it, and the refresh token belongs to that one.
async fn refresh_token(
    life: &Lifecycle,
    ctx: &RealmCtx,
    grant: &Grant<'_>,
    session: &UserSession,
    now: Timestamp,
) -> Result<(String, i64), OAuthError> {
    let realm = &ctx.realm;
    let jti = grant.rotated_refresh_id.clone().unwrap_or_else(|| Uuid::new_v4().to_string());
    let wants_offline = grant.scope.has("offline_access");
    // `key` is the row the refresh token belongs to; its `sid` is the id the world knows.
    let (key, sid, typ, expires_at) = if session.session_type == SessionType::Offline {
        (session.id, session.public_id(), TYP_OFFLINE, offline_expiry(realm, session, now))
    } else if wants_offline {
        let offline = start_offline(life, grant, session, &jti, now).await?;
        (offline.id, offline.public_id(), TYP_OFFLINE, offline_expiry(realm, &offline, now))
    } else {
        (session.id, session.id, TYP_REFRESH, grant.session_expires_at.unwrap_or(now))
    };
    if grant.rotated_refresh_id.is_none() && !(wants_offline && session.session_type == SessionType::Regular) {
        sessions::set_refresh_token(life.store.conn(), key, grant.client.id, &jti).await?;
    }
    let claims = RefreshClaims {
        exp: expires_at.as_secs(),
        iat: now.as_secs(),
        jti,
        iss: ctx.issuer.clone(),
        aud: ctx.issuer.clone(),
        sub: grant.user.id.to_string(),
        typ: typ.into(),
        azp: grant.client.client_id.clone(),
        sid: sid.to_string(),
        scope: grant.scope.joined(),
    };
    let signer = ctx.keys.signer(Alg::Hs256).ok_or_else(|| OAuthError::server_error("no HMAC key"))?;
    let token = jose::sign(signer, "JWT", &claims).map_err(OAuthError::server_error)?;
    Ok((token, secs_until(expires_at, now)))
}

fn offline_expiry(realm: &Realm, session: &UserSession, now: Timestamp) -> Timestamp {
    let idle_end = now.plus_secs(realm.limits.offline_idle);
    if realm.limits.offline_max_enabled {
        idle_end.min(session.started_at.plus_secs(realm.limits.offline_max))
    } else {
        idle_end
    }
}

async fn start_offline(
    life: &Lifecycle,
    grant: &Grant<'_>,
    online: &UserSession,
    refresh_id: &str,
    now: Timestamp,
) -> Result<UserSession, OAuthError> {
    // Known by the sign-in's id, as in Keycloak; a second client asking offline access in the
    // same sign-in joins the offline session the first one started.
    let offline = UserSession::start_offline(online, now);
    let mut client_session = new_client_session(&offline, grant.client, grant.scope.as_slice(), None, now);
    client_session.refresh_token_id = Some(refresh_id.to_owned());
    let txn = life.store.begin().await?;
    let started = sessions::start_or_join_offline(&txn, &offline).await?;
    sessions::upsert_client_session(&txn, &client_session).await?;
    txn.commit().await.map_err(StoreError::from)?;
    if started {
        tracing::info!(session = %online.id, client = %grant.client.client_id, "offline session started");
        return Ok(offline);
    }
    tracing::info!(session = %online.id, client = %grant.client.client_id, "offline session joined");
    // Its start (and so its max lifespan) is the first client's.
    Ok(sessions::find_user_session(life.store.conn(), offline.id).await?.unwrap_or(offline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_and_defaults_added() {
        let s = Scopes::parse(Some("openid offline_access openid")).unwrap();
        assert_eq!(s.joined(), "openid offline_access profile email");
        assert!(Scopes::parse(Some("openid admin")).is_err());
        assert_eq!(Scopes::parse(None).unwrap().joined(), "profile email");
    }

    #[test]
    fn roles_go_where_keycloak_puts_them() {
        let (realm, resource) = role_claims(&[AdminRole::Admin, AdminRole::ViewUsers]);
        assert_eq!(realm.unwrap().roles, vec!["admin"]);
        assert_eq!(resource["realm-management"].roles, vec!["view-users"]);
        let (realm, resource) = role_claims(&[]);
        assert!(realm.is_none() && resource.is_empty());
    }
}
