//! Tokens: what they say, how they are issued, and how a presented token is judged — always
//! against live session state, so an ended, expired or cut-off session's tokens die at once.

use std::collections::BTreeMap;

use latchkey_domain::{AdminRole, Client, Realm, SessionType, Timestamp, User, UserSession};
use latchkey_store::{clients, sessions, users, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::OAuthError;
use crate::jose;
use crate::keys::Alg;
use crate::provider::{Provider, RealmCtx};
use crate::signin::{live_session, new_client_session};

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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Roles {
    pub roles: Vec<String>,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub typ: String,
    pub azp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<String>,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm_access: Option<Roles>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_access: BTreeMap<String, Roles>,
}

/// The claims of a refresh token (HMAC-signed; only this realm ever reads it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub sub: String,
    /// `Refresh` or `Offline`.
    pub typ: String,
    pub azp: String,
    pub sid: String,
    pub scope: String,
}

pub const TYP_BEARER: &str = "Bearer";
/// Why a genuine refresh token of a live client session is refused: rotation replaced it.
pub const STALE: &str = "Stale token";
pub const TYP_REFRESH: &str = "Refresh";
pub const TYP_OFFLINE: &str = "Offline";

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
pub async fn issue(provider: &Provider, ctx: &RealmCtx, grant: Grant<'_>, now: Timestamp) -> Result<Value, OAuthError> {
    let realm = &ctx.realm;
    let user = grant.user;
    let roles = users::roles_of(provider.store.conn(), user.id).await?;
    let (realm_access, resource_access) = role_claims(&roles);
    let iat = now.as_secs();
    let mut exp = iat + realm.access_token_lifespan;
    if let Some(end) = grant.session_expires_at {
        exp = exp.min(end.as_secs().max(iat + 1));
    }
    let sid = grant.session.map(|s| s.id.to_string());
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
        let (refresh_token, refresh_expires_in) = refresh_token(provider, ctx, &grant, session, now).await?;
        response["refresh_token"] = json!(refresh_token);
        response["refresh_expires_in"] = json!(refresh_expires_in);
        response["session_state"] = json!(session.id.to_string());
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
    provider: &Provider,
    ctx: &RealmCtx,
    grant: &Grant<'_>,
    session: &UserSession,
    now: Timestamp,
) -> Result<(String, i64), OAuthError> {
    let realm = &ctx.realm;
    let jti = grant.rotated_refresh_id.clone().unwrap_or_else(|| Uuid::new_v4().to_string());
    let wants_offline = grant.scope.has("offline_access");
    let (sid, typ, expires_at) = if session.session_type == SessionType::Offline {
        (session.id, TYP_OFFLINE, offline_expiry(realm, session, now))
    } else if wants_offline {
        let offline = start_offline(provider, grant, session, &jti, now).await?;
        (offline.id, TYP_OFFLINE, offline_expiry(realm, &offline, now))
    } else {
        (session.id, TYP_REFRESH, grant.session_expires_at.unwrap_or(now))
    };
    if grant.rotated_refresh_id.is_none() && !(wants_offline && session.session_type == SessionType::Regular) {
        sessions::set_refresh_token(provider.store.conn(), sid, grant.client.id, &jti).await?;
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
    provider: &Provider,
    grant: &Grant<'_>,
    online: &UserSession,
    refresh_id: &str,
    now: Timestamp,
) -> Result<UserSession, OAuthError> {
    let mut offline =
        UserSession::start(online.realm_id, online.user_id, SessionType::Offline, &online.ip_address, false, now);
    offline.user_agent = online.user_agent.clone();
    let mut client_session = new_client_session(&offline, grant.client, grant.scope.as_slice(), None, now);
    client_session.refresh_token_id = Some(refresh_id.to_owned());
    let txn = provider.store.begin().await?;
    sessions::insert_user_session(&txn, &offline).await?;
    sessions::insert_client_session(&txn, &client_session).await?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(session = %offline.id, online = %online.id, client = %grant.client.client_id, "offline session started");
    Ok(offline)
}

/// A presented token that is valid now: signed by this realm, not expired, not revoked by a
/// not-before, and — unless it is a client-credentials token — its session and client session
/// alive.
pub struct ActiveToken<C> {
    pub claims: C,
    pub user: User,
    pub client: Client,
    pub session: Option<UserSession>,
}

/// Verifies a token's signature with the realm's keys, reloading them for an unknown `kid` (a
/// key added by another node) — at most once a second per realm, and never again for a `kid`
/// a reload did not find (see [`crate::keys::KeyCache::with_unknown_kid`]).
pub async fn verify<C: serde::de::DeserializeOwned>(provider: &Provider, ctx: &RealmCtx, token: &str) -> Option<C> {
    let unverified = jose::parse(token).ok()?;
    let kid = unverified.header.kid.clone()?;
    if let Some(key) = ctx.keys.verifier(&kid) {
        return unverified.verify(key).ok();
    }
    let keys = provider.keys.with_unknown_kid(&provider.store, &ctx.realm, &kid).await?;
    unverified.verify(keys.verifier(&kid)?).ok()
}

/// Judges an access token against live state. `Err(reason)` says why it is not active.
pub async fn active_access_token(
    provider: &Provider,
    ctx: &RealmCtx,
    token: &str,
    now: Timestamp,
) -> Result<Result<ActiveToken<AccessClaims>, &'static str>, OAuthError> {
    let Some(claims) = verify::<AccessClaims>(provider, ctx, token).await else {
        return Ok(Err("Token verification failed"));
    };
    if claims.typ != TYP_BEARER || claims.iss != ctx.issuer {
        return Ok(Err("Token verification failed"));
    }
    if claims.exp <= now.as_secs() {
        return Ok(Err("Token is not active"));
    }
    judge(provider, ctx, claims.iat, &claims.sub, &claims.azp, claims.sid.as_deref(), now)
        .await
        .map(|r| r.map(|(user, client, session)| ActiveToken { claims, user, client, session }))
}

/// Judges a refresh token: valid signature and type, and a live session whose client session
/// still holds it as its current refresh token.
pub async fn active_refresh_token(
    provider: &Provider,
    ctx: &RealmCtx,
    token: &str,
    now: Timestamp,
) -> Result<Result<ActiveToken<RefreshClaims>, &'static str>, OAuthError> {
    let Some(claims) = verify::<RefreshClaims>(provider, ctx, token).await else {
        return Ok(Err("Invalid refresh token"));
    };
    if !matches!(claims.typ.as_str(), TYP_REFRESH | TYP_OFFLINE) || claims.iss != ctx.issuer {
        return Ok(Err("Invalid refresh token"));
    }
    if claims.exp <= now.as_secs() {
        return Ok(Err("Refresh token expired"));
    }
    let judged = judge(provider, ctx, claims.iat, &claims.sub, &claims.azp, Some(&claims.sid), now).await?;
    let (user, client, session) = match judged {
        Ok(found) => found,
        Err(reason) => return Ok(Err(reason)),
    };
    let Some(session_ref) = session.as_ref() else { return Ok(Err("Session not active")) };
    let current = sessions::find_client_session(provider.store.conn(), session_ref.id, client.id).await?;
    if current.and_then(|c| c.refresh_token_id).as_deref() != Some(claims.jti.as_str()) {
        return Ok(Err(STALE));
    }
    Ok(Ok(ActiveToken { claims, user, client, session }))
}

/// The checks common to every token: user, client, session, client session, not-befores.
async fn judge(
    provider: &Provider,
    ctx: &RealmCtx,
    iat: i64,
    sub: &str,
    azp: &str,
    sid: Option<&str>,
    now: Timestamp,
) -> Result<Result<(User, Client, Option<UserSession>), &'static str>, OAuthError> {
    let realm = &ctx.realm;
    let Some(client) = clients::find_by_client_id(provider.store.conn(), realm.id, azp).await? else {
        return Ok(Err("Client not found"));
    };
    if !client.enabled {
        return Ok(Err("Client disabled"));
    }
    if iat < realm.not_before || iat < client.not_before {
        return Ok(Err("Token is not active"));
    }
    let Ok(user_id) = sub.parse::<Uuid>() else { return Ok(Err("Token verification failed")) };
    let (session, session_user) = match sid {
        None => (None, None),
        Some(sid) => {
            let Ok(sid) = sid.parse::<Uuid>() else { return Ok(Err("Token verification failed")) };
            let Some((session, user, _)) = live_session(provider, realm, sid, now).await? else {
                return Ok(Err("Session not active"));
            };
            let Some(client_session) = sessions::find_client_session(provider.store.conn(), sid, client.id).await?
            else {
                return Ok(Err("Session not active"));
            };
            if client_session.started_at.as_secs() < client.not_before {
                return Ok(Err("Session not active"));
            }
            (Some(session), Some(user))
        }
    };
    // The session's user was just read with it; read it again only for a token without a session.
    let user = match session_user.filter(|u| u.id == user_id) {
        Some(user) => user,
        None => match users::find_by_id(provider.store.conn(), user_id).await? {
            Some(user) => user,
            None => return Ok(Err("User not found")),
        },
    };
    if !user.enabled || user.realm_id != realm.id {
        return Ok(Err("User disabled"));
    }
    if iat < user.not_before {
        return Ok(Err("Token is not active"));
    }
    if session.as_ref().is_some_and(|s| s.user_id != user.id) {
        return Ok(Err("Token verification failed"));
    }
    Ok(Ok((user, client, session)))
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
