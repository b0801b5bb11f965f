//! Signing out: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, GET and POST) and
//! Keycloak's refresh-token logout. Every path ends the session through the one ending
//! operation of the store.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_domain::SessionId;
use latchkey_domain::{Client, SessionEnd};
use serde::Deserialize;

use crate::authorize::redirect_allowed;
use crate::client_auth::{authenticate_client, field, Form};
use crate::cookies;
use crate::error::OAuthError;
use crate::html;
use crate::resource::token_subject;
use crate::tokens;
use latchkey_lifecycle::state::{Lifecycle, RealmCtx};

/// The claims of an ID token that logout reads.
#[derive(Debug, Deserialize)]
struct IdTokenHint {
    iss: String,
    aud: String,
    typ: String,
    #[serde(default)]
    sid: Option<String>,
}

/// A protocol error as the page a browser shows.
fn error_page(e: OAuthError) -> HttpResponse {
    html::error_page(e.status, &e.description)
}

fn page_error(message: &str) -> HttpResponse {
    html::error_page(StatusCode::BAD_REQUEST, message)
}

fn logout_action(ctx: &RealmCtx) -> String {
    format!("/realms/{}/protocol/openid-connect/logout/confirm", ctx.realm.name)
}

/// Where to send the browser after signing out, if anywhere.
fn after_logout(redirect: Option<&str>, state: Option<&str>) -> HttpResponse {
    match redirect.and_then(|uri| url::Url::parse(uri).ok()) {
        Some(mut url) => {
            if let Some(state) = state {
                url.query_pairs_mut().append_pair("state", state);
            }
            HttpResponse::Found().insert_header((header::LOCATION, url.to_string())).finish()
        }
        None => html::signed_out_page(),
    }
}

async fn rp_logout(life: &Lifecycle, req: &HttpRequest, realm: &str, params: &HashMap<String, String>) -> HttpResponse {
    let ctx = match life.realm_ctx(realm).await {
        Ok(ctx) => ctx,
        Err(e) => return error_page(e.into()),
    };
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty() && v.len() <= 8192);
    let hint = match get("id_token_hint") {
        None => None,
        Some(token) => match tokens::verify::<IdTokenHint>(life, &ctx, token).await {
            Some(h) if h.iss == ctx.issuer && h.typ == "ID" => Some(h),
            _ => return page_error("Invalid parameter: id_token_hint"),
        },
    };
    let client_id = match (hint.as_ref().map(|h| h.aud.as_str()), get("client_id")) {
        (Some(a), Some(b)) if a != b => return page_error("Parameter client_id does not match the id_token_hint"),
        (a, b) => a.or(b),
    };
    let client = match client_id {
        Some(id) => match life.find_client(&ctx, id).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => return page_error("Invalid parameter: client_id"),
            Err(e) => return error_page(e.into()),
        },
        None => None,
    };
    let redirect = get("post_logout_redirect_uri");
    if let Some(uri) = redirect {
        let allowed = client.as_ref().is_some_and(|c: &Client| redirect_allowed(&ctx, c, uri));
        if !allowed {
            return page_error("Invalid parameter: post_logout_redirect_uri");
        }
    }
    let state = get("state");
    let browser_session = cookies::sso_session(&ctx, req);
    let hinted = hint.as_ref().and_then(|h| h.sid.as_deref()).and_then(|s| s.parse::<SessionId>().ok());
    // Without proof that the request comes from the application this browser signed in to, a
    // person confirms: a forged link — with no hint, or with a hint of someone else's session
    // (any attacker has an ID token of their own) — must not sign the browser out.
    let silent = hint.is_some() && browser_session.is_none_or(|own| Some(own) == hinted);
    if !silent {
        let (csrf, new_cookie) = cookies::csrf_token(&ctx, req);
        let mut hidden = html::hidden("csrf_token", &csrf);
        for (name, value) in [("client_id", client_id), ("post_logout_redirect_uri", redirect), ("state", state)] {
            if let Some(value) = value {
                hidden.push_str(&html::hidden(name, value));
            }
        }
        let mut page = html::logout_confirm_page(&logout_action(&ctx), &hidden);
        if let Some(cookie) = new_cookie {
            let _ = page.add_cookie(&cookie);
        }
        return page;
    }
    // The hint's own session ends (only its holder, the application, has the hint).
    if let Err(e) = life.end_sessions(&ctx.realm, &hinted.into_iter().collect::<Vec<_>>(), SessionEnd::SignOut).await {
        let e = OAuthError::from(e);
        return html::error_page(e.status, &e.description);
    }
    let mut answer = after_logout(redirect, state);
    let _ = answer.add_cookie(&cookies::clear_sso_cookie(&ctx));
    answer
}

/// `GET /realms/{realm}/protocol/openid-connect/logout`
pub async fn logout_get(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    rp_logout(&life, &req, &realm, &query).await
}

/// `POST /realms/{realm}/protocol/openid-connect/logout`: with `refresh_token`, Keycloak's
/// adapter logout (client-authenticated, answered 204); otherwise RP-initiated logout.
pub async fn logout_post(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> Result<HttpResponse, OAuthError> {
    let Some(refresh_token) = field(&form, "refresh_token") else {
        return Ok(rp_logout(&life, &req, &realm, &form).await);
    };
    let ctx = life.realm_ctx(&realm).await?;
    let client = authenticate_client(&life, &ctx, &req, &form).await?;
    let (sid, azp) = token_subject(&life, &ctx, refresh_token)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("Invalid refresh token"))?;
    if azp != client.client_id {
        return Err(OAuthError::invalid_grant("Invalid refresh token. Token client and authorized client don't match"));
    }
    let sid = sid.ok_or_else(|| OAuthError::invalid_grant("Invalid refresh token"))?;
    life.end_sessions(&ctx.realm, &[sid], SessionEnd::SignOut).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /realms/{realm}/protocol/openid-connect/logout/confirm`: the confirmation form.
pub async fn logout_confirm(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<Form>,
) -> HttpResponse {
    let ctx = match life.realm_ctx(&realm).await {
        Ok(ctx) => ctx,
        Err(e) => return error_page(e.into()),
    };
    if !cookies::csrf_ok(&req, field(&form, "csrf_token")) {
        return page_error("The sign-out form has expired. Please try again.");
    }
    let redirect = field(&form, "post_logout_redirect_uri");
    if let Some(uri) = redirect {
        let client = match field(&form, "client_id") {
            Some(id) => life.find_client(&ctx, id).await.ok().flatten(),
            None => None,
        };
        if !client.is_some_and(|c| redirect_allowed(&ctx, &c, uri)) {
            return page_error("Invalid parameter: post_logout_redirect_uri");
        }
    }
    if let Some(sid) = cookies::sso_session(&ctx, &req) {
        if let Err(e) = life.end_sessions(&ctx.realm, &[sid], SessionEnd::SignOut).await {
            let e = OAuthError::from(e);
            return html::error_page(e.status, &e.description);
        }
    }
    let mut answer = after_logout(redirect, field(&form, "state"));
    let _ = answer.add_cookie(&cookies::clear_sso_cookie(&ctx));
    answer
}
