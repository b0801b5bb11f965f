//! The token endpoint: `authorization_code`, `refresh_token` (rotating), `password`,
//! `client_credentials`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use latchkey_domain::{Client, Cutoffs, Liveness, SessionEnd, SessionType, Timestamp, User, UserSession};
use latchkey_store::codes::{self, Taken};
use latchkey_store::{sessions, users, StoreError};
use serde_json::Value;
use uuid::Uuid;

use crate::authorize::code_hash;
use crate::client_auth::{authenticate_client, bounded, field, Form};
use crate::error::OAuthError;
use crate::resource::token_subject;
use crate::tokens::{self, Grant, Scopes};
use latchkey_lifecycle::signin::{self, live_session_of_client, LoginFailure, Origin};
use latchkey_lifecycle::state::{sha256, Lifecycle, RealmCtx, TOUCH_GRANULARITY_MS};

/// `POST /realms/{realm}/protocol/openid-connect/token`
pub async fn token(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> Result<HttpResponse, OAuthError> {
    let answer = grant(&life, &req, &realm, &form).await;
    let grant_type = match field(&form, "grant_type") {
        Some(known @ ("authorization_code" | "refresh_token" | "password" | "client_credentials")) => known,
        Some(_) => "unsupported",
        None => "missing",
    };
    life.metrics.token_request(grant_type, answer.as_ref().map_or_else(|e| e.error, |_| "success"));
    answer
}

async fn grant(life: &Lifecycle, req: &HttpRequest, realm: &str, form: &Form) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(realm).await?;
    let grant_type =
        field(form, "grant_type").ok_or_else(|| OAuthError::invalid_request("Missing form parameter: grant_type"))?;
    let now = Timestamp::now();
    let body = match grant_type {
        "authorization_code" => code_grant(life, &ctx, req, form, now).await?,
        "refresh_token" => refresh_grant(life, &ctx, req, form, now).await?,
        "password" => password_grant(life, &ctx, req, form, now).await?,
        "client_credentials" => client_credentials_grant(life, &ctx, req, form, now).await?,
        other => {
            return Err(OAuthError::unsupported_grant_type(format!("Unsupported grant_type: {}", truncate(other))))
        }
    };
    Ok(no_store(HttpResponse::Ok()).json(body))
}

pub fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
    builder
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// When a live session ends unless used again, counting from now (used just now).
fn expiry_after_use(ctx: &RealmCtx, session: &UserSession, now: Timestamp) -> Timestamp {
    let used = UserSession { last_access: now, ..session.clone() };
    match used.liveness(&ctx.realm.limits, &Cutoffs::default(), now) {
        Liveness::Alive { expires_at } => expires_at,
        Liveness::Dead(_) => now,
    }
}

async fn code_grant(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    form: &Form,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(life, ctx, req, form).await?;
    let code = bounded(form, "code", 256)?.ok_or_else(|| OAuthError::invalid_request("Missing parameter: code"))?;
    let redirect_uri = bounded(form, "redirect_uri", 2048)?;
    let verifier = bounded(form, "code_verifier", 128)?;
    let stored = match codes::take(life.store.conn(), &code_hash(code), now).await? {
        Taken::Fresh(stored) if stored.realm_id == ctx.realm.id => stored,
        Taken::Replayed(used) if used.realm_id == ctx.realm.id && used.client_id == client.id => {
            // A code used twice was stolen or leaked: what was issued from it stops working.
            life.end_client_session(&ctx.realm, used.user_session_id, &client, SessionEnd::TokenReuse).await?;
            return Err(OAuthError::invalid_grant("Code not valid"));
        }
        _ => return Err(OAuthError::invalid_grant("Code not valid")),
    };
    if stored.client_id != client.id {
        return Err(OAuthError::invalid_grant("Code not valid"));
    }
    if redirect_uri != Some(stored.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("Incorrect redirect_uri"));
    }
    match (&stored.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let valid_shape =
                verifier.len() >= 43 && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !valid_shape || B64.encode(sha256(verifier.as_bytes())) != *challenge {
                return Err(OAuthError::invalid_grant("PKCE verification failed: Code mismatch"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("PKCE code verifier not specified")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("PKCE code verifier sent for a code issued without a challenge"))
        }
        (None, None) => {}
    }
    let Some((session, user, Some(_))) =
        live_session_of_client(life, &ctx.realm, stored.user_session_id, client.id, now).await?
    else {
        return Err(OAuthError::invalid_grant("Session not active"));
    };
    let scope = Scopes::from_stored(&stored.scope.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    let expires_at = expiry_after_use(ctx, &session, now);
    let grant = Grant {
        user: &user,
        client: &client,
        session: Some(&session),
        session_expires_at: Some(expires_at),
        scope: &scope,
        nonce: stored.nonce.as_deref(),
        rotated_refresh_id: None,
    };
    tokens::issue(life, ctx, grant, now).await
}

async fn refresh_grant(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    form: &Form,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(life, ctx, req, form).await?;
    let presented = bounded(form, "refresh_token", 8192)?
        .ok_or_else(|| OAuthError::invalid_request("Missing parameter: refresh_token"))?;
    let active = match tokens::active_refresh_token(life, ctx, presented, now).await? {
        Ok(active) => active,
        Err(tokens::STALE) => return Err(refresh_token_reused(life, ctx, &client, presented).await?),
        Err(reason) => return Err(OAuthError::invalid_grant(reason)),
    };
    if active.claims.azp != client.client_id {
        return Err(OAuthError::invalid_grant("Invalid refresh token. Token client and authorized client don't match"));
    }
    let session = active.session.as_ref().ok_or_else(|| OAuthError::invalid_grant("Session not active"))?;
    let rotated = Uuid::new_v4().to_string();
    let rotate =
        || sessions::rotate_refresh_token(life.store.conn(), session.id, client.id, &active.claims.jti, &rotated, now);
    // What can fail runs before the rotation commits: an answer lost after it (the database
    // gone between the rotation and the response) would leave the client holding the token
    // just replaced, and its next request would read as reuse and end the session. Only a
    // grant that starts an offline session rotates first: no offline session for a token that
    // turns out to be reused.
    sessions::touch(&life.store, session.id, now, TOUCH_GRANULARITY_MS).await?;
    let scope = Scopes::from_stored(&active.claims.scope.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    let starts_offline = scope.has("offline_access") && session.session_type == SessionType::Regular;
    if starts_offline && !rotate().await? {
        return Err(refresh_token_reused(life, ctx, &client, presented).await?);
    }
    let grant = Grant {
        user: &active.user,
        client: &client,
        session: Some(session),
        session_expires_at: Some(expiry_after_use(ctx, session, now)),
        scope: &scope,
        nonce: None,
        rotated_refresh_id: Some(rotated.clone()),
    };
    let answer = tokens::issue(life, ctx, grant, now).await?;
    if !starts_offline && !rotate().await? {
        return Err(refresh_token_reused(life, ctx, &client, presented).await?);
    }
    Ok(answer)
}

/// A refresh token that rotation had already replaced was presented again: one of its two
/// holders is not the client (RFC 9700, 4.14.2). The client session it belongs to ends — the
/// client is told, the ending recorded — and the request is refused.
async fn refresh_token_reused(
    life: &Lifecycle,
    ctx: &RealmCtx,
    client: &Client,
    presented: &str,
) -> Result<OAuthError, OAuthError> {
    if let Some((Some(sid), azp)) = token_subject(life, ctx, presented).await? {
        if azp == client.client_id {
            life.end_client_session(&ctx.realm, sid, client, SessionEnd::TokenReuse).await?;
        }
    }
    Ok(OAuthError::invalid_grant("Stale token: this refresh token was already used, so its session was ended"))
}

async fn password_grant(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    form: &Form,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(life, ctx, req, form).await?;
    if !client.direct_access_grants {
        return Err(OAuthError::unauthorized_client("Client not allowed for direct access grants"));
    }
    let username =
        bounded(form, "username", 320)?.ok_or_else(|| OAuthError::invalid_request("Missing parameter: username"))?;
    let password =
        bounded(form, "password", 1024)?.ok_or_else(|| OAuthError::invalid_request("Missing parameter: password"))?;
    let scope = Scopes::parse(bounded(form, "scope", 2048)?)?;
    let ip = crate::client_ip(life, req);
    let user = match signin::check_credentials(life, &ctx.realm, username, password, &ip, now).await? {
        Ok(user) => user,
        Err(LoginFailure::Throttled { retry_after }) => return Err(OAuthError::too_many_attempts(retry_after)),
        Err(LoginFailure::Disabled) => return Err(OAuthError::invalid_grant("Account disabled")),
        Err(LoginFailure::Invalid) => {
            let mut e = OAuthError::invalid_grant("Invalid user credentials");
            e.status = StatusCode::UNAUTHORIZED;
            return Err(e);
        }
    };
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let origin = Origin { ip: &ip, user_agent };
    let session = signin::start_session(
        life,
        &ctx.realm,
        &user,
        &client,
        SessionType::Regular,
        &origin,
        false,
        scope.as_slice(),
        None,
        now,
    )
    .await?;
    let grant = Grant {
        user: &user,
        client: &client,
        session: Some(&session),
        session_expires_at: Some(expiry_after_use(ctx, &session, now)),
        scope: &scope,
        nonce: None,
        rotated_refresh_id: None,
    };
    tokens::issue(life, ctx, grant, now).await
}

async fn client_credentials_grant(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    form: &Form,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    let client = authenticate_client(life, ctx, req, form).await?;
    if client.is_public() || !client.service_accounts {
        return Err(OAuthError::unauthorized_client("Client not enabled to retrieve service account"));
    }
    let scope = Scopes::parse(bounded(form, "scope", 2048)?)?;
    let user = service_account(life, ctx, &client, now).await?;
    if !user.enabled {
        return Err(OAuthError::invalid_grant("Service account disabled"));
    }
    let grant = Grant {
        user: &user,
        client: &client,
        session: None,
        session_expires_at: None,
        scope: &scope,
        nonce: None,
        rotated_refresh_id: None,
    };
    tokens::issue(life, ctx, grant, now).await
}

/// The user a client acts as with client credentials, created on first use and found by the
/// client's id: a client renamed keeps its account, and a new client named like an old one
/// (in any case) gets its own. The account is called `service-account-<clientId>`, or, where
/// that name is taken, the same with the client's id after it.
async fn service_account(
    life: &Lifecycle,
    ctx: &RealmCtx,
    client: &Client,
    now: Timestamp,
) -> Result<User, OAuthError> {
    let conn = life.store.conn();
    if let Some(user) = users::find_service_account(conn, client.id).await? {
        return Ok(user);
    }
    let names = [
        format!("service-account-{}", client.client_id),
        format!("service-account-{}-{}", client.client_id, client.id),
    ];
    for username in names {
        let mut user = User::new(ctx.realm.id, &username, now).map_err(OAuthError::server_error)?;
        user.service_account_of = Some(client.id);
        match users::insert(conn, &user).await {
            Ok(()) => return Ok(user),
            // Another request made it first (one account per client), or the name is taken.
            Err(StoreError::Conflict(_)) => {
                if let Some(user) = users::find_service_account(conn, client.id).await? {
                    return Ok(user);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(OAuthError::server_error("no name is free for the client's service account"))
}
