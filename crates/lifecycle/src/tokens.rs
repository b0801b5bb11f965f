//! What a token says, and how a presented token is judged: signed by its realm, not expired,
//! not revoked by a not-before, and — unless it was issued without a session — its session and
//! client session alive. Every check reads live state, so an ended, expired or cut-off
//! session's tokens die at once, on every node.

use std::collections::BTreeMap;

use latchkey_domain::{Client, ClientSession, SessionId, Timestamp, User, UserId, UserSession, Which};
use latchkey_store::users;
use serde::{Deserialize, Serialize};

use crate::error::LifecycleError;
use crate::jose;
use crate::signin::live_session_of_client;
use crate::state::{Lifecycle, RealmCtx};

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

/// A presented token that is valid now: signed by this realm, not expired, not revoked by a
/// not-before, and — unless it is a client-credentials token — its session and client session
/// alive.
pub struct ActiveToken<C> {
    pub claims: C,
    pub user: User,
    pub client: Client,
    pub session: Option<UserSession>,
    /// The client's session in `session`, read with it.
    pub client_session: Option<ClientSession>,
}

/// Verifies a token's signature with the realm's keys, reloading them for an unknown `kid` (a
/// key added by another node) — at most once a second per realm, and never again for a `kid`
/// a reload did not find (see [`crate::keys::KeyCache::with_unknown_kid`]).
pub async fn verify<C: serde::de::DeserializeOwned>(life: &Lifecycle, ctx: &RealmCtx, token: &str) -> Option<C> {
    let unverified = jose::parse(token).ok()?;
    let kid = unverified.header.kid.clone()?;
    if let Some(key) = ctx.keys.verifier(&kid) {
        return unverified.verify(key).ok();
    }
    let keys = life.keys.with_unknown_kid(&life.store, &ctx.realm, &kid).await?;
    unverified.verify(keys.verifier(&kid)?).ok()
}

/// Judges an access token against live state. `Err(reason)` says why it is not active.
pub async fn active_access_token(
    life: &Lifecycle,
    ctx: &RealmCtx,
    token: &str,
    now: Timestamp,
) -> Result<Result<ActiveToken<AccessClaims>, &'static str>, LifecycleError> {
    let Some(claims) = verify::<AccessClaims>(life, ctx, token).await else {
        return Ok(Err("Token verification failed"));
    };
    if claims.typ != TYP_BEARER || claims.iss != ctx.issuer {
        return Ok(Err("Token verification failed"));
    }
    if claims.exp <= now.as_secs() {
        return Ok(Err("Token is not active"));
    }
    // An access token's `sid` names a sign-in; its session is the regular one or, for a token
    // issued by an offline refresh, the offline one started by that sign-in (as in Keycloak).
    let sid = claims.sid.as_deref().map(|sid| (sid, Which::Either));
    judge(life, ctx, claims.iat, &claims.sub, &claims.azp, sid, now).await.map(|r| {
        r.map(|j| ActiveToken {
            claims,
            user: j.user,
            client: j.client,
            session: j.session,
            client_session: j.client_session,
        })
    })
}

/// Judges a refresh token: valid signature and type, and a live session whose client session
/// still holds it as its current refresh token.
pub async fn active_refresh_token(
    life: &Lifecycle,
    ctx: &RealmCtx,
    token: &str,
    now: Timestamp,
) -> Result<Result<ActiveToken<RefreshClaims>, &'static str>, LifecycleError> {
    let Some(claims) = verify::<RefreshClaims>(life, ctx, token).await else {
        return Ok(Err("Invalid refresh token"));
    };
    if !matches!(claims.typ.as_str(), TYP_REFRESH | TYP_OFFLINE) || claims.iss != ctx.issuer {
        return Ok(Err("Invalid refresh token"));
    }
    if claims.exp <= now.as_secs() {
        return Ok(Err("Refresh token expired"));
    }
    let which = if claims.typ == TYP_OFFLINE { Which::Offline } else { Which::Regular };
    let judged = judge(life, ctx, claims.iat, &claims.sub, &claims.azp, Some((&claims.sid, which)), now).await?;
    let judged = match judged {
        Ok(found) => found,
        Err(reason) => return Ok(Err(reason)),
    };
    let Some(current) = judged.client_session.as_ref() else { return Ok(Err("Session not active")) };
    if current.refresh_token_id.as_deref() != Some(claims.jti.as_str()) {
        return Ok(Err(STALE));
    }
    let Judged { user, client, session, client_session } = judged;
    Ok(Ok(ActiveToken { claims, user, client, session, client_session }))
}

/// What [`judge`] found alive.
struct Judged {
    user: User,
    client: Client,
    session: Option<UserSession>,
    client_session: Option<ClientSession>,
}

/// The checks common to every token: user, client, session, client session, not-befores.
async fn judge(
    life: &Lifecycle,
    ctx: &RealmCtx,
    iat: i64,
    sub: &str,
    azp: &str,
    sid: Option<(&str, Which)>,
    now: Timestamp,
) -> Result<Result<Judged, &'static str>, LifecycleError> {
    let realm = &ctx.realm;
    let Some(client) = life.catalog.client(life.store.conn(), realm.id, azp).await? else {
        return Ok(Err("Client not found"));
    };
    if !client.enabled {
        return Ok(Err("Client disabled"));
    }
    if iat < realm.not_before || iat < client.not_before {
        return Ok(Err("Token is not active"));
    }
    let Ok(user_id) = sub.parse::<UserId>() else { return Ok(Err("Token verification failed")) };
    let (session, session_user, client_session) = match sid {
        None => (None, None, None),
        Some((sid, which)) => {
            let Ok(sid) = sid.parse::<SessionId>() else { return Ok(Err("Token verification failed")) };
            let mut live = None;
            for key in UserSession::keys_of(sid, which) {
                if let Some(found @ (_, _, Some(_))) = live_session_of_client(life, realm, key, client.id, now).await? {
                    if found.0.is(which) {
                        live = Some(found);
                        break;
                    }
                }
            }
            let Some((session, user, Some(client_session))) = live else {
                return Ok(Err("Session not active"));
            };
            // (The client's not-before against its session's start is judged there too, as the
            // database holds it now.)
            (Some(session), Some(user), Some(client_session))
        }
    };
    // The session's user was just read with it; read it again only for a token without a session.
    let user = match session_user.filter(|u| u.id == user_id) {
        Some(user) => user,
        None => match users::find_by_id(life.store.conn(), user_id).await? {
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
    Ok(Ok(Judged { user, client, session, client_session }))
}
