//! Discovery (`.well-known/openid-configuration`) and the realm's public keys (`certs`).
//! Discovery advertises what is implemented, and nothing more.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::OAuthError;
use crate::tokens::KNOWN_SCOPES;
use latchkey_lifecycle::state::Lifecycle;

/// `GET /realms/{realm}/.well-known/openid-configuration`
pub async fn configuration(life: web::Data<Lifecycle>, realm: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(&realm).await?;
    let base = format!("{}/protocol/openid-connect", ctx.issuer);
    Ok(HttpResponse::Ok().json(json!({
        "issuer": ctx.issuer,
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "introspection_endpoint": format!("{base}/token/introspect"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "end_session_endpoint": format!("{base}/logout"),
        "jwks_uri": format!("{base}/certs"),
        "revocation_endpoint": format!("{base}/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": KNOWN_SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp", "at_hash",
            "preferred_username", "email", "email_verified", "name", "given_name", "family_name"],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })))
}

/// `GET /realms/{realm}/protocol/openid-connect/certs`: every public key that still verifies.
pub async fn certs(life: web::Data<Lifecycle>, realm: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    let ctx = life.realm_ctx(&realm).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-cache")).json(ctx.keys.jwks()))
}
