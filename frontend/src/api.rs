//! Every HTTP call the console makes to the admin API, in one place. Bodies are the types
//! generated from `openapi/openapi.json` by `build.rs`, and paths are its path templates, so a
//! contract the console does not follow fails its build.

use gloo_net::http::{Request, RequestBuilder, Response};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{self, Tokens};
use crate::routes;

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

impl std::error::Error for ApiError {}

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

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { rows: self.rows.into_iter().map(f).collect(), total: self.total }
    }
}

/// Which sessions a list holds, spelled as Keycloak's `SessionType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionType {
    #[default]
    All,
    Regular,
    Offline,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::All => "ALL",
            SessionType::Regular => "REGULAR",
            SessionType::Offline => "OFFLINE",
        }
    }

    pub fn is_all(&self) -> bool {
        *self == SessionType::All
    }
}

/// In any case; empty is [`SessionType::All`].
impl std::str::FromStr for SessionType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "" | "ALL" => Ok(SessionType::All),
            "REGULAR" => Ok(SessionType::Regular),
            "OFFLINE" => Ok(SessionType::Offline),
            _ => Err(()),
        }
    }
}

/// Which sessions a list shows: the query of the session lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListQuery {
    #[serde(rename = "type", skip_serializing_if = "SessionType::is_all")]
    pub kind: SessionType,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub search: String,
    pub first: u64,
    pub max: u64,
}

#[derive(Serialize)]
struct ClientQuery<'a> {
    #[serde(rename = "clientId")]
    client_id: &'a str,
}

#[derive(Serialize)]
struct UsersQuery<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    search: &'a str,
    first: u64,
    max: u64,
}

#[derive(Serialize)]
struct ClientsQuery {
    max: u64,
}

#[derive(Serialize)]
struct TypeQuery {
    #[serde(rename = "type")]
    kind: SessionType,
}

#[derive(Serialize)]
struct EndSessionQuery {
    #[serde(rename = "isOffline")]
    is_offline: bool,
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn request(self, url: &str) -> RequestBuilder {
        match self {
            Method::Get => Request::get(url),
            Method::Post => Request::post(url),
            Method::Put => Request::put(url),
            Method::Delete => Request::delete(url),
        }
    }
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
        path = path.replace(&format!("{{{name}}}"), &routes::encode(value));
    }
    format!("{}{path}", server())
}

/// `url` with `query` added to its query string.
fn with_query(url: String, query: &impl Serialize) -> Result<String, ApiError> {
    let query = serde_qs::to_string(query).map_err(|e| ApiError { status: 0, message: e.to_string() })?;
    Ok(match (query.is_empty(), url.contains('?')) {
        (true, _) => url,
        (false, false) => format!("{url}?{query}"),
        (false, true) => format!("{url}&{query}"),
    })
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
/// expire and once more on a 401; without a usable token, signs in again. Writes carry a JSON
/// body (`{}` when they have nothing to say).
async fn send(method: Method, url: &str, body: Option<String>) -> Result<Response, ApiError> {
    let signal = tokens();
    let mut current = signal.get_untracked().ok_or(ApiError { status: 401, message: "Not signed in".into() })?;
    if current.expires_at - js_sys::Date::now() < 15_000.0 {
        if let Ok(fresh) = auth::refresh(&current).await {
            signal.set(Some(fresh.clone()));
            current = fresh;
        }
    }
    let body = match method {
        Method::Get => None,
        _ => Some(body.unwrap_or_else(|| "{}".into())),
    };
    for attempt in 0..2 {
        let request = method.request(url).header("Authorization", &format!("Bearer {}", current.access_token));
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

/// A GET's body, and the total of the list it holds when the server counted one.
async fn get_json<T: DeserializeOwned>(url: &str) -> Result<(T, Option<u64>), ApiError> {
    let answer = send(Method::Get, url, None).await?;
    if !answer.ok() {
        return Err(failure(answer).await);
    }
    let total = answer.headers().get("x-total-count").and_then(|t| t.parse().ok());
    let body = answer.json::<T>().await.map_err(|e| ApiError { status: 0, message: e.to_string() })?;
    Ok((body, total))
}

/// A write's answer: its body, or nothing on 204.
async fn write<T: DeserializeOwned>(method: Method, url: &str, body: Option<String>) -> Result<Option<T>, ApiError> {
    let answer = send(method, url, body).await?;
    if !answer.ok() {
        return Err(failure(answer).await);
    }
    if answer.status() == 204 {
        return Ok(None);
    }
    answer.json::<T>().await.map(Some).map_err(|e| ApiError { status: 0, message: e.to_string() })
}

pub async fn whoami(signin_realm: &str) -> Result<WhoAmI, ApiError> {
    Ok(get_json(&fill(paths::GET_ADMIN_REALM_CONSOLE_WHOAMI, &[("realm", signin_realm)])).await?.0)
}

pub async fn realm(realm: &str) -> Result<RealmRepresentation, ApiError> {
    Ok(get_json(&fill(paths::GET_ADMIN_REALMS_REALM, &[("realm", realm)])).await?.0)
}

pub async fn realm_sessions(realm: &str, q: &ListQuery) -> Result<Page<SessionRepresentation>, ApiError> {
    let url = with_query(fill(paths::GET_ADMIN_REALMS_REALM_UI_EXT_SESSIONS, &[("realm", realm)]), q)?;
    let (rows, total) = get_json(&url).await?;
    Ok(Page { rows, total: total.unwrap_or_default() })
}

pub async fn client_sessions(
    realm: &str,
    client: &str,
    q: &ListQuery,
) -> Result<Page<SessionRepresentation>, ApiError> {
    let url = with_query(fill(paths::GET_ADMIN_REALMS_REALM_UI_EXT_SESSIONS_CLIENT, &[("realm", realm)]), q)?;
    let url = with_query(url, &ClientQuery { client_id: client })?;
    let (rows, total) = get_json(&url).await?;
    Ok(Page { rows, total: total.unwrap_or_default() })
}

pub async fn client_session_stats(realm: &str) -> Result<Vec<ClientSessionStats>, ApiError> {
    Ok(get_json(&fill(paths::GET_ADMIN_REALMS_REALM_CLIENT_SESSION_STATS, &[("realm", realm)])).await?.0)
}

pub async fn clients(realm: &str) -> Result<Vec<ClientRepresentation>, ApiError> {
    let url =
        with_query(fill(paths::GET_ADMIN_REALMS_REALM_CLIENTS, &[("realm", realm)]), &ClientsQuery { max: 1000 })?;
    Ok(get_json(&url).await?.0)
}

pub async fn client(realm: &str, id: &str) -> Result<ClientRepresentation, ApiError> {
    Ok(get_json(&fill(paths::GET_ADMIN_REALMS_REALM_CLIENTS_ID, &[("realm", realm), ("id", id)])).await?.0)
}

pub async fn users(realm: &str, search: &str, first: u64, max: u64) -> Result<Vec<UserRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_USERS, &[("realm", realm)]);
    Ok(get_json(&with_query(url, &UsersQuery { search, first, max })?).await?.0)
}

pub async fn user(realm: &str, id: &str) -> Result<UserRepresentation, ApiError> {
    Ok(get_json(&fill(paths::GET_ADMIN_REALMS_REALM_USERS_ID, &[("realm", realm), ("id", id)])).await?.0)
}

/// A user's sessions of one type (`Regular` or `Offline`): the representation does not say
/// which a session is, so the console asks for each type once.
pub async fn user_sessions(
    realm: &str,
    id: &str,
    kind: SessionType,
) -> Result<Vec<UserSessionRepresentation>, ApiError> {
    let url = fill(paths::GET_ADMIN_REALMS_REALM_USERS_ID_SESSIONS, &[("realm", realm), ("id", id)]);
    Ok(get_json(&with_query(url, &TypeQuery { kind })?).await?.0)
}

pub async fn end_session(realm: &str, id: &str, offline: bool) -> Result<(), ApiError> {
    let url = fill(paths::DELETE_ADMIN_REALMS_REALM_SESSIONS_ID, &[("realm", realm), ("id", id)]);
    let url = with_query(url, &EndSessionQuery { is_offline: offline })?;
    write::<serde_json::Value>(Method::Delete, &url, None).await.map(|_| ())
}

pub async fn logout_user(realm: &str, id: &str) -> Result<(), ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_USERS_ID_LOGOUT, &[("realm", realm), ("id", id)]);
    write::<serde_json::Value>(Method::Post, &url, None).await.map(|_| ())
}

pub async fn logout_all(realm: &str) -> Result<GlobalRequestResult, ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_LOGOUT_ALL, &[("realm", realm)]);
    Ok(write(Method::Post, &url, None).await?.unwrap_or_default())
}

pub async fn push_revocation(realm: &str) -> Result<GlobalRequestResult, ApiError> {
    let url = fill(paths::POST_ADMIN_REALMS_REALM_PUSH_REVOCATION, &[("realm", realm)]);
    Ok(write(Method::Post, &url, None).await?.unwrap_or_default())
}

/// Changes the realm's fields that `update` holds.
pub async fn update_realm(realm: &str, update: &RealmUpdate) -> Result<(), ApiError> {
    let url = fill(paths::PUT_ADMIN_REALMS_REALM, &[("realm", realm)]);
    let body = serde_json::to_string(update).map_err(|e| ApiError { status: 0, message: e.to_string() })?;
    write::<serde_json::Value>(Method::Put, &url, Some(body)).await.map(|_| ())
}

/// Sets the realm's not-before (epoch seconds; 0 clears it).
pub async fn set_not_before(realm: &str, not_before: f64) -> Result<(), ApiError> {
    update_realm(realm, &RealmUpdate { not_before: Some(not_before), ..Default::default() }).await
}
