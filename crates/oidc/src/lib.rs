//! Latchkey's OpenID Connect provider, at Keycloak's paths under `/realms/{realm}` so that
//! existing clients and libraries find it: discovery, certs, the authorization endpoint with
//! its sign-in form, token, userinfo, introspection, revocation and logout.
//!
//! Every sign-in creates or joins a stored session, and every token is judged against live
//! session state (`latchkey-lifecycle`), so what administrators see and end is what is really
//! in use. This crate keeps the protocol: endpoints, token issuing, cookies and pages.

pub mod authorize;
pub mod client_auth;
pub mod cookies;
pub mod discovery;
pub mod error;
pub mod html;
pub mod logout;
pub mod resource;
pub mod token;
pub mod tokens;

use actix_web::{web, HttpRequest};
use latchkey_lifecycle::Lifecycle;

pub use error::OAuthError;

/// The address a request came from (see [`Lifecycle::client_ip`]).
pub fn client_ip(life: &Lifecycle, req: &HttpRequest) -> String {
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    life.client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
}

/// Registers the provider's routes. Needs a `web::Data<Lifecycle>` in the app. They sit in one
/// scope under `/realms/{realm}`, so a request matches one pattern with a parameter and then
/// plain paths, not every route's pattern in turn.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let oidc = "/protocol/openid-connect";
    cfg.service(
        web::scope("/realms/{realm}")
            .route("/.well-known/openid-configuration", web::get().to(discovery::configuration))
            .route(&format!("{oidc}/certs"), web::get().to(discovery::certs))
            .route(&format!("{oidc}/auth"), web::get().to(authorize::authorize_get))
            .route(&format!("{oidc}/auth"), web::post().to(authorize::authorize_post))
            .route("/login-actions/authenticate", web::post().to(authorize::authenticate))
            .route(&format!("{oidc}/token"), web::post().to(token::token))
            .route(&format!("{oidc}/token/introspect"), web::post().to(resource::introspect))
            .route(&format!("{oidc}/userinfo"), web::get().to(resource::userinfo_get))
            .route(&format!("{oidc}/userinfo"), web::post().to(resource::userinfo_post))
            .route(&format!("{oidc}/revoke"), web::post().to(resource::revoke))
            .route(&format!("{oidc}/logout"), web::get().to(logout::logout_get))
            .route(&format!("{oidc}/logout"), web::post().to(logout::logout_post))
            .route(&format!("{oidc}/logout/confirm"), web::post().to(logout::logout_confirm)),
    );
}
