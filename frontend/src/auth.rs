//! Signing in to the console: OpenID Connect authorization code with PKCE at the
//! `security-admin-console` client of the sign-in realm (`master`, or the realm named by
//! `?signin=` for a realm's own administrators). Tokens live in memory only; what must survive
//! the round trip to the sign-in page (the PKCE verifier, the state, where to return) is kept
//! in this tab's sessionStorage and removed on return.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use leptos::prelude::window;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::api;
use crate::routes::{self, BASE, CALLBACK};

pub const CLIENT_ID: &str = "security-admin-console";
const PENDING: &str = "latchkey.console.pending";
const SIGNIN_REALM: &str = "latchkey.console.signin";

/// The administrator's tokens. Its `Debug` shows none of them.
#[derive(Clone)]
pub struct Tokens {
    pub realm: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// When the access token expires, epoch milliseconds.
    pub expires_at: f64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("realm", &self.realm)
            .field("access_token", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: f64,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

#[derive(serde::Serialize, Deserialize)]
struct Pending {
    realm: String,
    state: String,
    verifier: String,
    return_to: String,
}

fn storage() -> web_sys::Storage {
    window().session_storage().ok().flatten().expect("sessionStorage")
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    window().crypto().expect("crypto").get_random_values_with_u8_array(&mut buf).expect("random bytes");
    URL_SAFE_NO_PAD.encode(buf)
}

fn origin() -> String {
    window().location().origin().unwrap_or_default()
}

fn redirect_uri() -> String {
    format!("{}{CALLBACK}", origin())
}

/// The realm administrators of this tab sign in to: `?signin=` when given (remembered for the
/// tab), else the one remembered, else `master`.
pub fn signin_realm(from_query: Option<String>) -> String {
    let store = storage();
    if let Some(realm) = from_query {
        let _ = store.set_item(SIGNIN_REALM, &realm);
        return realm;
    }
    store.get_item(SIGNIN_REALM).ok().flatten().unwrap_or_else(|| "master".into())
}

fn realm_url(realm: &str, endpoint: &str) -> String {
    format!("{}/realms/{}/protocol/openid-connect/{endpoint}", api::server(), routes::encode(realm))
}

/// Leaves for the sign-in page; comes back to `/console/callback`, then to `return_to`.
pub fn begin(realm: &str, return_to: &str) {
    let verifier = random(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let pending = Pending { realm: realm.into(), state: random(16), verifier, return_to: return_to.into() };
    let _ = storage().set_item(PENDING, &serde_json::to_string(&pending).expect("JSON"));
    let params = web_sys::UrlSearchParams::new().expect("URLSearchParams");
    for (k, v) in [
        ("client_id", CLIENT_ID),
        ("redirect_uri", &redirect_uri()),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", &pending.state),
    ] {
        params.append(k, v);
    }
    let url = format!("{}?{}", realm_url(realm, "auth"), String::from(params.to_string()));
    let _ = window().location().assign(&url);
}

/// Finishes a sign-in on `/console/callback`: checks the state, trades the code (with the
/// PKCE verifier) for tokens. Returns them and where to go.
pub async fn complete(code: &str, state: &str) -> Result<(Tokens, String), String> {
    let store = storage();
    let pending: Pending = store
        .get_item(PENDING)
        .ok()
        .flatten()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .ok_or("This sign-in was not started here; start again.")?;
    let _ = store.remove_item(PENDING);
    if pending.state != state {
        return Err("The sign-in answer does not match the request (state); start again.".into());
    }
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("code", code),
        ("redirect_uri", &redirect_uri()),
        ("code_verifier", &pending.verifier),
    ];
    let tokens = token_request(&pending.realm, &form).await?;
    Ok((tokens, pending.return_to))
}

/// A new access token from the refresh token.
pub async fn refresh(tokens: &Tokens) -> Result<Tokens, String> {
    let refresh_token = tokens.refresh_token.as_deref().ok_or("no refresh token")?;
    let form = [("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("refresh_token", refresh_token)];
    let mut fresh = token_request(&tokens.realm, &form).await?;
    if fresh.id_token.is_none() {
        fresh.id_token = tokens.id_token.clone();
    }
    Ok(fresh)
}

async fn token_request(realm: &str, form: &[(&str, &str)]) -> Result<Tokens, String> {
    let body = web_sys::UrlSearchParams::new().expect("URLSearchParams");
    for (k, v) in form {
        body.append(k, v);
    }
    let answer = gloo_net::http::Request::post(&realm_url(realm, "token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(String::from(body.to_string()))
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("The server cannot be reached: {e}"))?;
    if !answer.ok() {
        let text = answer.text().await.unwrap_or_default();
        return Err(format!("Sign-in failed ({}): {text}", answer.status()));
    }
    let t: TokenResponse = answer.json().await.map_err(|e| e.to_string())?;
    Ok(Tokens {
        realm: realm.into(),
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        id_token: t.id_token,
        expires_at: js_sys::Date::now() + t.expires_in * 1000.0,
    })
}

/// Signs out at the server (ending the console's session there) and comes back to the console.
pub fn sign_out(tokens: &Tokens) {
    let params = web_sys::UrlSearchParams::new().expect("URLSearchParams");
    params.append("client_id", CLIENT_ID);
    params.append("post_logout_redirect_uri", &format!("{}{BASE}/", origin()));
    if let Some(id_token) = &tokens.id_token {
        params.append("id_token_hint", id_token);
    }
    let url = format!("{}?{}", realm_url(&tokens.realm, "logout"), String::from(params.to_string()));
    let _ = window().location().assign(&url);
}
