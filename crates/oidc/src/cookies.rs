//! The SSO cookie and the CSRF cookie of the sign-in and sign-out forms.
//!
//! The SSO cookie names the session and carries an HMAC of it made with the realm's secret, so
//! it cannot be forged or moved to another realm; it proves nothing by itself — the session
//! behind it must be alive at every use. Both cookies are HttpOnly, scoped to the realm's path,
//! and Secure when the issuer is https.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use latchkey_domain::SessionId;

use crate::error::OAuthError;
use latchkey_lifecycle::keys::Alg;
use latchkey_lifecycle::state::{constant_time_eq, RealmCtx};

pub const SSO_COOKIE: &str = "LATCHKEY_IDENTITY";
pub const CSRF_COOKIE: &str = "LATCHKEY_CSRF";

fn path(ctx: &RealmCtx) -> String {
    format!("/realms/{}/", ctx.realm.name)
}

fn secure(ctx: &RealmCtx) -> bool {
    ctx.issuer.starts_with("https://")
}

/// The SSO cookie for a session; persistent (for the session's max lifespan) with remember-me.
pub fn sso_cookie(
    ctx: &RealmCtx,
    session_id: SessionId,
    max_age_secs: Option<i64>,
) -> Result<Cookie<'static>, OAuthError> {
    let signer = ctx.keys.signer(Alg::Hs256).ok_or_else(|| OAuthError::server_error("the realm has no HMAC key"))?;
    let signature = signer.sign(format!("sso:{}:{session_id}", ctx.realm.id).as_bytes()).unwrap_or_default();
    let value = format!("{session_id}.{}.{}", signer.kid, B64.encode(signature));
    let mut cookie = Cookie::build(SSO_COOKIE, value)
        .path(path(ctx))
        .http_only(true)
        .secure(secure(ctx))
        .same_site(SameSite::Lax)
        .finish();
    if let Some(secs) = max_age_secs {
        cookie.set_max_age(CookieDuration::seconds(secs));
    }
    Ok(cookie)
}

/// The session an SSO cookie names, if the cookie is genuine (the session may still be dead).
pub fn sso_session(ctx: &RealmCtx, req: &HttpRequest) -> Option<SessionId> {
    let cookie = req.cookie(SSO_COOKIE)?;
    let mut parts = cookie.value().splitn(3, '.');
    let (id, kid, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let session_id: SessionId = id.parse().ok()?;
    let signature = B64.decode(sig).ok()?;
    let key = ctx.keys.verifier(kid).filter(|k| k.alg == Alg::Hs256)?;
    key.verify(format!("sso:{}:{session_id}", ctx.realm.id).as_bytes(), &signature).ok()?;
    Some(session_id)
}

/// An expired SSO cookie, to remove it.
pub fn clear_sso_cookie(ctx: &RealmCtx) -> Cookie<'static> {
    let mut cookie = Cookie::build(SSO_COOKIE, "").path(path(ctx)).http_only(true).secure(secure(ctx)).finish();
    cookie.make_removal();
    cookie
}

/// The request's CSRF token, or a new one (returned with the cookie to set).
pub fn csrf_token(ctx: &RealmCtx, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() >= 32) {
        return (existing.value().to_owned(), None);
    }
    let token = latchkey_lifecycle::state::random_token();
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path(path(ctx))
        .http_only(true)
        .secure(secure(ctx))
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// True when the form's CSRF token is the cookie's (double-submit; the cookie is SameSite=Strict).
pub fn csrf_ok(req: &HttpRequest, submitted: Option<&str>) -> bool {
    match (req.cookie(CSRF_COOKIE), submitted) {
        (Some(cookie), Some(submitted)) => {
            cookie.value().len() >= 32 && constant_time_eq(cookie.value().as_bytes(), submitted.as_bytes())
        }
        _ => false,
    }
}
