//! Endpoints that judge presented tokens from live session state: userinfo (OIDC Core 5.3),
//! introspection (RFC 7662) and revocation (RFC 7009).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_domain::{SessionEnd, SessionId, SessionType, Timestamp, UserSession, Which};
use latchkey_store::sessions;
use serde_json::{json, Value};

use crate::client_auth::{authenticate_client, bounded, field, Form};
use crate::error::OAuthError;
use crate::token::no_store;
use crate::tokens::{self, AccessClaims, RefreshClaims};
use latchkey_lifecycle::state::{Lifecycle, RealmCtx};

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

async fn userinfo(
    life: &Lifecycle,
    req: &HttpRequest,
    realm: &str,
    form: Option<&Form>,
) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(realm).await?;
    let token = bearer(req)
        .or_else(|| form.and_then(|f| field(f, "access_token")).map(str::to_owned))
        .ok_or_else(|| OAuthError::invalid_token("Token not provided"))?;
    let active =
        tokens::active_access_token(life, &ctx, &token, Timestamp::now()).await?.map_err(OAuthError::invalid_token)?;
    let user = &active.user;
    let mut claims = json!({
        "sub": user.id.to_string(),
        "preferred_username": user.username,
        "email_verified": user.email_verified,
    });
    let name =
        [user.first_name.as_deref(), user.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let optional = [
        ("email", user.email.clone()),
        ("given_name", user.first_name.clone()),
        ("family_name", user.last_name.clone()),
        ("name", (!name.is_empty()).then_some(name)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            claims[key] = json!(value);
        }
    }
    Ok(no_store(HttpResponse::Ok()).json(claims))
}

/// `GET /realms/{realm}/protocol/openid-connect/userinfo`
pub async fn userinfo_get(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    userinfo(&life, &req, &realm, None).await
}

/// `POST /realms/{realm}/protocol/openid-connect/userinfo`
pub async fn userinfo_post(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> Result<HttpResponse, OAuthError> {
    userinfo(&life, &req, &realm, Some(&form)).await
}

fn access_introspection(t: &tokens::ActiveToken<AccessClaims>) -> Value {
    let c = &t.claims;
    json!({
        "active": true, "exp": c.exp, "iat": c.iat, "jti": c.jti, "iss": c.iss, "aud": c.aud, "sub": c.sub,
        "typ": c.typ, "azp": c.azp, "sid": c.sid, "session_state": c.sid, "scope": c.scope,
        "client_id": c.azp, "username": t.user.username, "token_type": "Bearer",
    })
}

fn refresh_introspection(t: &tokens::ActiveToken<RefreshClaims>) -> Value {
    let c = &t.claims;
    json!({
        "active": true, "exp": c.exp, "iat": c.iat, "jti": c.jti, "iss": c.iss, "aud": c.aud, "sub": c.sub,
        "typ": c.typ, "azp": c.azp, "sid": c.sid, "session_state": c.sid, "scope": c.scope,
        "client_id": c.azp, "username": t.user.username, "token_type": c.typ,
    })
}

/// `POST /realms/{realm}/protocol/openid-connect/token/introspect`: confidential clients only.
pub async fn introspect(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(&realm).await?;
    let client = authenticate_client(&life, &ctx, &req, &form).await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client("Public clients are not allowed to introspect tokens"));
    }
    let token =
        bounded(&form, "token", 16 * 1024)?.ok_or_else(|| OAuthError::invalid_request("Missing parameter: token"))?;
    let now = Timestamp::now();
    let refresh_first = field(&form, "token_type_hint") == Some("refresh_token");
    let answer = if refresh_first {
        match tokens::active_refresh_token(&life, &ctx, token, now).await? {
            Ok(t) => refresh_introspection(&t),
            Err(_) => inactive_or_access(&life, &ctx, token, now).await?,
        }
    } else {
        match tokens::active_access_token(&life, &ctx, token, now).await? {
            Ok(t) => access_introspection(&t),
            Err(_) => match tokens::active_refresh_token(&life, &ctx, token, now).await? {
                Ok(t) => refresh_introspection(&t),
                Err(_) => json!({"active": false}),
            },
        }
    };
    Ok(no_store(HttpResponse::Ok()).json(answer))
}

async fn inactive_or_access(
    life: &Lifecycle,
    ctx: &RealmCtx,
    token: &str,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    Ok(match tokens::active_access_token(life, ctx, token, now).await? {
        Ok(t) => access_introspection(&t),
        Err(_) => json!({"active": false}),
    })
}

/// The session (its row key) and client a token was issued for, from its signature alone
/// (revocation and logout act on tokens whether or not they are still active). A refresh
/// token's type says which of the sessions known by its `sid` it belongs to; an access token
/// means the live one, the regular first.
pub async fn token_subject(
    life: &Lifecycle,
    ctx: &RealmCtx,
    token: &str,
) -> Result<Option<(Option<SessionId>, String)>, OAuthError> {
    let (sid, azp, which) = match tokens::verify::<RefreshClaims>(life, ctx, token).await {
        Some(c) if c.iss == ctx.issuer && matches!(c.typ.as_str(), tokens::TYP_REFRESH | tokens::TYP_OFFLINE) => {
            let which = if c.typ == tokens::TYP_OFFLINE { Which::Offline } else { Which::Regular };
            (Some(c.sid), c.azp, which)
        }
        _ => match tokens::verify::<AccessClaims>(life, ctx, token).await {
            Some(c) if c.iss == ctx.issuer && c.typ == tokens::TYP_BEARER => (c.sid, c.azp, Which::Either),
            _ => return Ok(None),
        },
    };
    let Some(sid) = sid.and_then(|s| s.parse::<SessionId>().ok()) else { return Ok(Some((None, azp))) };
    let key = match sessions::find_by_public_id(life.store.conn(), sid, which).await? {
        Some(session) => session.id,
        // Gone already: the key it had, for which there is nothing left to end.
        None => UserSession::keys_of(sid, which)[0],
    };
    Ok(Some((Some(key), azp)))
}

/// `POST /realms/{realm}/protocol/openid-connect/revoke`: ends the token's client session, so
/// its refresh token and every access token of that client session stop working. An offline
/// session left with no client is ended. Unknown or invalid tokens are answered 200 (RFC 7009).
pub async fn revoke(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(&realm).await?;
    let client = authenticate_client(&life, &ctx, &req, &form).await?;
    let token =
        bounded(&form, "token", 16 * 1024)?.ok_or_else(|| OAuthError::invalid_request("Missing parameter: token"))?;
    let Some((sid, azp)) = token_subject(&life, &ctx, token).await? else {
        return Ok(no_store(HttpResponse::Ok()).finish());
    };
    if azp != client.client_id {
        return Err(OAuthError::unauthorized_client("Token was issued to another client"));
    }
    if let Some(sid) = sid {
        let store = life.store.conn();
        let session = sessions::find_user_session(store, sid).await?;
        let held = sessions::client_sessions_of(store, sid).await?;
        let only_this = held.iter().all(|c| c.client_id == client.id);
        if session.is_some_and(|s| s.session_type == SessionType::Offline) && only_this {
            // The offline session has nothing left: it ends, and its client is told.
            life.end_sessions(&ctx.realm, &[sid], SessionEnd::Revoked).await?;
        } else {
            sessions::delete_client_session(store, sid, client.id).await?;
        }
        tracing::info!(session = %sid, client = %client.client_id, "token revoked");
    }
    Ok(no_store(HttpResponse::Ok()).finish())
}
