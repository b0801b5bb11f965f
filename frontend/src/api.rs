//! Every HTTP call the console makes to the admin API, in one place. Bodies are the types
//! generated from `openapi/openapi.json` by `build.rs`, and paths are its path templates, so a
//! contract the console does not follow fails its build.

use gloo_net::http::{Request, RequestBuilder, Response};
use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::auth::{self, Tokens};

#[allow(dead_code, clippy::all)]
pub mod contract {
    include!(concat!(env!("OUT_DIR"), "/contract.rs"));
}

use contract::{paths, ErrorBody};
pub use contract::{
    ClientRepresentation, ClientSessionStats, GlobalRequestResult, RealmRepresentation, RealmUpdate,
    SessionRepresentation, UserRepresentation, UserSessionRepresentation, WhoAmI,
};

/// The admin API's base URL: the `latchkey-server` meta tag of the page, else its own origin.
pub fn server() -> String {
    let configured = document()
        .query_selector("meta[name=latchkey-server]")
        .ok()
        .flatten()
        .and_then(|m| m.get_attribute("content"))
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty());
    configured.unwrap_or_else(|| window().location().origin().unwrap_or_default())
}

/// A failed call, as the person should read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            0 => write!(f, "{}", self.message),
            403 => write!(f, "You are not allowed to do this ({})", self.message),
            s => write!(f, "{} (HTTP {s})", self.message),
        }
    }
}

/// One page of a list, with the total the server counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: u64,
}

/// Which sessions a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// `ALL`, `REGULAR` or `OFFLINE`.
    pub kind: String,
    pub search: String,
    pub first: u64,
    pub max: u64,
}

thread_local! {
    static TOKENS: std::cell::OnceCell<RwSignal<Option<Tokens>>> = const { std::cell::OnceCell::new() };
}

/// The signed-in administrator's tokens, shared by every call (also from tasks, which have no
/// reactive context to look them up in).
pub fn tokens() -> RwSignal<Option<Tokens>> {
    TOKENS.with(|t| *t.get_or_init(|| RwSignal::new(None)))
}

fn fill(template: &str, params: &[(&str, &str)]) -> String {
    let mut path = template.to_owned();
    for (name, value) in params {
        path = path.replace(&format!("{{{name}}}"), &crate::nav::encode(value));
    }
    format!("{}{path}", server())
}

fn query(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

async fn failure(answer: Response) -> ApiError {
    let status = answer.status();
    let message = match answer.json::<ErrorBody>().await {
        Ok(body) => body.error_description,
        Err(_) => answer.status_text(),
    };
    ApiError { status, message }
}

/// Sends a request with the current access token, refreshing it first when it is about to
/// expire and once more on a 401; without a usable token, signs in again.
async fn send(build: impl Fn(&str) -> RequestBuilder, body: Option<String>) -> Result<Response, ApiError> {
    let signal = tokens();
    let mut current = signal.get_untracked().ok_or(ApiError { status: 401, message: "Not signed in".into() })?;
    if current.expires_at - js_sys::Date::now() < 15_000.0 {
        if let Ok(fresh) = auth::refresh(&current).await {
            signal.set(Some(fresh.clone()));
            current = fresh;
        }
    }
    for attempt in 0..2 {
        let request = build(&format!("Bearer {}", current.access_token));
        let sent = match &body {
            Some(json) => request.header("Content-Type", "application/json").body(json.clone()),
            None => request.build(),
        }
        .map_err(|e| ApiError { status: 0, message: e.to_string() })?
        .send()
        .await
        .map_err(|e| ApiError { status: 0, message: format!("The server cannot be reached: {e}") })?;
        if sent.status() != 401 {
            return Ok(sent);
        }
        if attempt == 0 {
            if let Ok(fresh) = auth::refresh(&current).await {
                signal.set(Some(fresh.clone()));
                current = fresh;
                continue;
            }
        }
        // The console's own session is over (signed out elsewhere, or all sessions ended).
        signal.set(None);
        return Err(failure(sent).await);
    }
    unreachable!("the loop returns")
}

async fn get_json<T: DeserializeOwned>(url: String, q: Vec<(String, String)>) -> Result<(T, Option<u64>), ApiError> {
    let answer = send(
        |bearer| {
            Request::get(&url).query(q.iter().map(|(k, v)| (k.as_str(), v.as_str()))).header("Authorization", bearer)
        },
        None,
    )
    .await?;
    if !answer.ok() {
        return Err(failure(answer).await);
    }
    let total = answer.headers().get("x-total-count").and_then(|t| t.parse().ok());
    let body = answer.json::<T>().await.map_err(|e| ApiError { status: 0, message: e.to_string() })?;
    Ok((body, total))
}

async fn write<T: DeserializeOwned>(
    method: &'static str,
    url: String,
    q: Vec<(String, String)>,
    body: Option<String>,
) -> Result<Option<T>, ApiError> {
    let answer = send(
        |bearer| {
            let pairs = q.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let request = match method {
                "POST" => Request::post(&url),
                "PUT" => Request::put(&url),
                _ => Request::delete(&url),
            };
            request.query(pairs).header("Authorization", bearer)
        },
        Some(body.unwrap_or_else(|| "{}".into())),
    )
    .await?;
    if !answer.ok() {
        return Err(failure(answer).await);
    }
    if answer.status() == 204 {
        return Ok(None);
    }
    answer.json::<T>().await.map(Some).map_err(|e| ApiError { status: 0, message: e.to_string() })
}

fn page_query(q: &ListQuery) -> Vec<(&'static str, String)> {
    vec![
        ("type", q.kind.clone()),
        ("search", q.search.clone()),
        ("first", q.first.to_string()),
        ("max", q.max.to_string()),
    ]
}

pub async fn whoami(signin_realm: &str) -> Result<WhoAmI, ApiError> {
    let url = fill(paths::GET_ADMIN_REALM_CONSOLE_WHOAMI, &[("realm", signin_realm)]);
    Ok(get_json(url, Vec::new()).await?.0)
}

pub async fn realm(realm: &str) -> Result<RealmRepresentation, ApiError> {
    Ok(get_json(fill(paths::GET_ADMIN_REALMS_REALM, &[("realm", realm)]), Vec::new()).await?.0)
}

pub async fn realm_sessions(realm: &str, q: &ListQuery) -> Result<Page<SessionRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_UI_EXT_SESSIONS, &[("realm", realm)]);
    let (rows, total) = get_json(url, query(&page_query(q))).await?;
    Ok(Page { rows, total: total.unwrap_or_default() })
}

pub async fn client_sessions(
    realm: &str,
    client: &str,
    q: &ListQuery,
) -> Result<Page<SessionRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_UI_EXT_SESSIONS_CLIENT, &[("realm", realm)]);
    let mut pairs = page_query(q);
    pairs.push(("clientId", client.to_owned()));
    let (rows, total) = get_json(url, query(&pairs)).await?;
    Ok(Page { rows, total: total.unwrap_or_default() })
}

pub async fn client_session_stats(realm: &str) -> Result<Vec<ClientSessionStats>, ApiError> {
    Ok(get_json(fill(paths::GET_ADMIN_REALMS_REALM_CLIENT_SESSION_STATS, &[("realm", realm)]), Vec::new()).await?.0)
}

pub async fn clients(realm: &str) -> Result<Vec<ClientRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_CLIENTS, &[("realm", realm)]);
    Ok(get_json(url, query(&[("max", "1000".into())])).await?.0)
}

pub async fn client(realm: &str, id: &str) -> Result<ClientRepresentation, ApiError> {
    Ok(get_json(fill(paths::GET_ADMIN_REALMS_REALM_CLIENTS_ID, &[("realm", realm), ("id", id)]), Vec::new()).await?.0)
}

pub async fn users(realm: &str, search: &str, first: u64, max: u64) -> Result<Vec<UserRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_USERS, &[("realm", realm)]);
    let q = query(&[("search", search.to_owned()), ("first", first.to_string()), ("max", max.to_string())]);
    Ok(get_json(url, q).await?.0)
}

pub async fn user(realm: &str, id: &str) -> Result<UserRepresentation, ApiError> {
    Ok(get_json(fill(paths::GET_ADMIN_REALMS_REALM_USERS_ID, &[("realm", realm), ("id", id)]), Vec::new()).await?.0)
}

/// A user's sessions of one type (`REGULAR` or `OFFLINE`): the representation does not say
/// which a session is, so the console asks for each type once.
pub async fn user_sessions(realm: &str, id: &str, kind: &str) -> Result<Vec<UserSessionRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_USERS_ID_SESSIONS, &[("realm", realm), ("id", id)]);
    Ok(get_json(url, query(&[("type", kind.to_owned())])).await?.0)
}

pub async fn end_session(realm: &str, id: &str, offline: bool) -> Result<(), ApiError> {
    let url = fill(paths::DELETE_ADMIN_REALMS_REALM_SESSIONS_ID, &[("realm", realm), ("id", id)]);
    write::<serde_json::Value>("DELETE", url, query(&[("isOffline", offline.to_string())]), None).await.map(|_| ())
}

pub async fn logout_user(realm: &str, id: &str) -> Result<(), ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_USERS_ID_LOGOUT, &[("realm", realm), ("id", id)]);
    write::<serde_json::Value>("POST", url, Vec::new(), None).await.map(|_| ())
}

pub async fn logout_all(realm: &str) -> Result<GlobalRequestResult, ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_LOGOUT_ALL, &[("realm", realm)]);
    Ok(write("POST", url, Vec::new(), None).await?.unwrap_or_default())
}

pub async fn push_revocation(realm: &str) -> Result<GlobalRequestResult, ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_PUSH_REVOCATION, &[("realm", realm)]);
    Ok(write("POST", url, Vec::new(), None).await?.unwrap_or_default())
}

/// Sets the realm's not-before (epoch seconds; 0 clears it).
pub async fn set_not_before(realm: &str, not_before: f64) -> Result<(), ApiError> {
    let url = fill(paths::PUT_ADMIN_REALMS_REALM, &[("realm", realm)]);
    let update = RealmUpdate { not_before: Some(not_before), ..Default::default() };
    let body = serde_json::to_string(&update).map_err(|e| ApiError { status: 0, message: e.to_string() })?;
    write::<serde_json::Value>("PUT", url, Vec::new(), Some(body)).await.map(|_| ())
}
