//! Who is calling the token, introspection, revocation and logout endpoints: client
//! authentication by `client_secret_basic` or `client_secret_post`, public clients by id alone.

use std::collections::HashMap;

use actix_web::{http::header, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use latchkey_domain::Client;

use crate::error::OAuthError;
use latchkey_lifecycle::state::{Lifecycle, RealmCtx};

/// A form body, by field name. Empty fields count as absent: clients send `code=` and
/// `redirect_uri=` with the password grant.
pub type Form = HashMap<String, String>;

/// A non-empty field of the form.
pub fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// Refuses a field longer than `max` bytes, naming it.
pub fn bounded<'a>(form: &'a Form, name: &str, max: usize) -> Result<Option<&'a str>, OAuthError> {
    match field(form, name) {
        Some(v) if v.len() > max => Err(OAuthError::invalid_request(format!("{name} is longer than {max} characters"))),
        other => Ok(other),
    }
}

fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client("malformed Authorization header"))?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Ok(None);
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    let (id, secret) =
        decoded.split_once(':').ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// RFC 6749 2.3.1: the Basic user and password are form-urlencoded.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// The client making this request, authenticated.
pub async fn authenticate_client(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    form: &Form,
) -> Result<Client, OAuthError> {
    let (client_id, secret) = match basic_credentials(req)? {
        Some((id, secret)) => {
            if field(form, "client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request("client_id differs from the Basic credentials"));
            }
            (id, Some(secret))
        }
        None => {
            let id = field(form, "client_id").ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
            (id.to_owned(), field(form, "client_secret").map(str::to_owned))
        }
    };
    let invalid = || OAuthError::invalid_client("Invalid client or Invalid client credentials");
    let client = life.find_client(ctx, &client_id).await?.ok_or_else(invalid)?;
    if client.is_public() {
        return Ok(client);
    }
    let secret = secret.ok_or_else(invalid)?;
    if secret.len() > 1024 || !life.verify_client_secret(&client, &secret, &crate::client_ip(life, req)).await? {
        return Err(invalid());
    }
    Ok(client)
}
