//! The authorization endpoint and the sign-in form: the authorization code flow with PKCE,
//! SSO across clients through the SSO cookie, `prompt=login|none`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_domain::uri::RedirectPattern;
use latchkey_domain::{Client, SessionType, Timestamp};
use latchkey_store::codes::{self, AuthCode};
use latchkey_store::sessions;

use crate::cookies;
use crate::error::OAuthError;
use crate::html;
use crate::tokens::Scopes;
use latchkey_lifecycle::signin::{self, live_session, new_client_session, LoginFailure, Origin};
use latchkey_lifecycle::state::TOUCH_GRANULARITY_MS;
use latchkey_lifecycle::{random_token, sha256, Lifecycle, RealmCtx};

/// The parameters of an authorization request, carried through the sign-in form.
const PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
    "response_mode",
];

/// Longest accepted value of any authorization parameter.
const MAX_PARAM: usize = 2048;
/// How long an authorization code lives, seconds.
pub const CODE_LIFETIME_SECS: i64 = 60;

#[derive(Debug, Clone, Default)]
pub struct AuthRequest(HashMap<&'static str, String>);

impl AuthRequest {
    pub fn from_map(map: &HashMap<String, String>) -> Self {
        AuthRequest(
            PARAMS
                .iter()
                .filter_map(|name| map.get(*name).filter(|v| !v.is_empty()).map(|v| (*name, v.clone())))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn hidden_fields(&self) -> String {
        PARAMS.iter().filter_map(|name| self.get(name).map(|v| html::hidden(name, v))).collect()
    }
}

/// An authorization request that passed every check.
pub struct Validated {
    pub client: Client,
    pub redirect_uri: String,
    /// The same, parsed (the answer's parameters are added to it).
    pub redirect: url::Url,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<String>,
}

/// A refused authorization request: to an error page when the client or redirect URI cannot
/// be trusted, else back to the client with `error=`.
pub enum Rejection {
    Page(HttpResponse),
    Redirect(String),
}

impl From<Rejection> for HttpResponse {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Page(page) => page,
            Rejection::Redirect(url) => found(&url),
        }
    }
}

impl From<OAuthError> for Rejection {
    fn from(e: OAuthError) -> Self {
        Rejection::Page(html::error_page(e.status, &e.description))
    }
}

impl From<latchkey_lifecycle::LifecycleError> for Rejection {
    fn from(e: latchkey_lifecycle::LifecycleError) -> Self {
        OAuthError::from(e).into()
    }
}

fn found(url: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn with_params(base: &url::Url, params: &[(&str, Option<&str>)]) -> String {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

fn error_redirect(
    ctx: &RealmCtx,
    redirect_uri: &url::Url,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Rejection {
    Rejection::Redirect(with_params(
        redirect_uri,
        &[
            ("error", Some(error)),
            ("error_description", Some(description)),
            ("state", state),
            ("iss", Some(&ctx.issuer)),
        ],
    ))
}

/// The server's own base URL (the issuer without `/realms/{realm}`).
fn server_base(ctx: &RealmCtx) -> &str {
    ctx.issuer.rsplit_once("/realms/").map_or(ctx.issuer.as_str(), |(base, _)| base)
}

/// Whether `uri` is allowed by one of the client's registered redirect URIs (see
/// [`RedirectPattern`]: both sides parsed; scheme, host and port equal; a wildcard only as a
/// whole last path segment). Registered paths (`/console/*`) are resolved against the client's
/// root URL, or the server's own URL.
pub fn redirect_allowed(ctx: &RealmCtx, client: &Client, uri: &str) -> bool {
    client.redirect_uris.iter().any(|registered| {
        let registered = if registered.starts_with('/') && !registered.starts_with("//") {
            let base = client.root_url.as_deref().unwrap_or(server_base(ctx)).trim_end_matches('/');
            format!("{base}{registered}")
        } else {
            registered.clone()
        };
        RedirectPattern::parse(&registered).is_some_and(|pattern| pattern.matches(uri))
    })
}

fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks an authorization request in the order the spec requires: client and redirect URI
/// first (errors there never redirect), then everything else (errors go back to the client).
pub async fn validate(life: &Lifecycle, ctx: &RealmCtx, auth: &AuthRequest) -> Result<Validated, Rejection> {
    if let Some(name) = PARAMS.iter().find(|name| auth.get(name).is_some_and(|v| v.len() > MAX_PARAM)) {
        return Err(OAuthError::invalid_request(format!("{name} is longer than {MAX_PARAM} characters")).into());
    }
    let client_id = auth.get("client_id").ok_or_else(|| OAuthError::invalid_request("Missing parameter: client_id"))?;
    let client = life
        .find_client(ctx, client_id)
        .await
        .map_err(Rejection::from)?
        .ok_or_else(|| Rejection::from(OAuthError::invalid_request("Client not found.")))?;
    let redirect_uri =
        auth.get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("Missing parameter: redirect_uri"))?;
    if !redirect_allowed(ctx, &client, redirect_uri) {
        return Err(OAuthError::invalid_request("Invalid parameter: redirect_uri").into());
    }
    let state = auth.get("state");
    let redirect =
        url::Url::parse(redirect_uri).map_err(|_| OAuthError::invalid_request("Invalid parameter: redirect_uri"))?;
    let back = |error: &str, description: &str| error_redirect(ctx, &redirect, state, error, description);

    match auth.get("response_type") {
        Some("code") => {}
        None => return Err(back("invalid_request", "Missing parameter: response_type")),
        Some(_) => return Err(back("unsupported_response_type", "Only the authorization code flow is supported")),
    }
    if auth.get("response_mode").is_some_and(|m| m != "query") {
        return Err(back("invalid_request", "Invalid parameter: response_mode"));
    }
    if !client.standard_flow {
        return Err(back(
            "unauthorized_client",
            "Client is not allowed to initiate browser login with given response_type",
        ));
    }
    let scopes = Scopes::parse(auth.get("scope")).map_err(|e| back(e.error, &e.description))?;

    let code_challenge = match (auth.get("code_challenge"), auth.get("code_challenge_method")) {
        (None, Some(_)) => return Err(back("invalid_request", "Missing parameter: code_challenge")),
        (None, None) if client.is_public() || client.pkce_required => {
            return Err(back("invalid_request", "Missing parameter: code_challenge (PKCE with S256 is required)"))
        }
        (None, None) => None,
        (Some(_), method) if method != Some("S256") => {
            return Err(back("invalid_request", "Invalid parameter: code_challenge_method (only S256 is supported)"))
        }
        (Some(challenge), _) if !valid_pkce_value(challenge) => {
            return Err(back("invalid_request", "Invalid parameter: code_challenge"))
        }
        (Some(challenge), _) => Some(challenge.to_owned()),
    };

    let prompt = auth.get("prompt");
    if let Some(prompt) = prompt {
        let values: Vec<&str> = prompt.split_whitespace().collect();
        if values.iter().any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account")) {
            return Err(back("invalid_request", "Invalid parameter: prompt"));
        }
        if values.contains(&"none") && values.len() > 1 {
            return Err(back("invalid_request", "prompt=none cannot be combined with other values"));
        }
    }
    Ok(Validated {
        client,
        redirect_uri: redirect_uri.to_owned(),
        redirect: redirect.clone(),
        scopes,
        state: state.map(str::to_owned),
        nonce: auth.get("nonce").map(str::to_owned),
        code_challenge,
        prompt: prompt.map(str::to_owned),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of a code: its hex SHA-256.
pub fn code_hash(code: &str) -> String {
    hex(&sha256(code.as_bytes()))
}

/// Issues a code for a session and answers with the redirect that carries it.
async fn redirect_with_code(
    life: &Lifecycle,
    ctx: &RealmCtx,
    v: &Validated,
    session_id: latchkey_domain::SessionId,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let code = random_token();
    let stored = AuthCode {
        code_hash: code_hash(&code),
        realm_id: ctx.realm.id,
        client_id: v.client.id,
        user_session_id: session_id,
        redirect_uri: v.redirect_uri.clone(),
        scope: v.scopes.joined(),
        nonce: v.nonce.clone(),
        code_challenge: v.code_challenge.clone(),
        expires_at: now.plus_secs(CODE_LIFETIME_SECS),
    };
    codes::insert(life.store.conn(), &stored).await?;
    let session_state = session_id.to_string();
    Ok(with_params(
        &v.redirect,
        &[
            ("code", Some(&code)),
            ("state", v.state.as_deref()),
            ("session_state", Some(&session_state)),
            ("iss", Some(&ctx.issuer)),
        ],
    ))
}

fn login_action(ctx: &RealmCtx) -> String {
    format!("/realms/{}/login-actions/authenticate", ctx.realm.name)
}

fn realm_title(ctx: &RealmCtx) -> String {
    ctx.realm.display_name.clone().unwrap_or_else(|| ctx.realm.name.clone())
}

fn login_form(
    ctx: &RealmCtx,
    req: &HttpRequest,
    auth: &AuthRequest,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (csrf, new_cookie) = cookies::csrf_token(ctx, req);
    let hidden = format!("{}{}", auth.hidden_fields(), html::hidden("csrf_token", &csrf));
    let mut page =
        html::login_page(&realm_title(ctx), &login_action(ctx), &hidden, username, error, ctx.realm.remember_me);
    if let Some(cookie) = new_cookie {
        let _ = page.add_cookie(&cookie);
    }
    page
}

async fn authorize(life: &Lifecycle, req: &HttpRequest, realm: &str, params: &HashMap<String, String>) -> HttpResponse {
    let ctx = match life.realm_ctx(realm).await {
        Ok(ctx) => ctx,
        Err(e) => return Rejection::from(e).into(),
    };
    let auth = AuthRequest::from_map(params);
    let v = match validate(life, &ctx, &auth).await {
        Ok(v) => v,
        Err(rejection) => return rejection.into(),
    };
    let now = Timestamp::now();
    let wants_login = v.prompt.as_deref().is_some_and(|p| p.split_whitespace().any(|x| x == "login"));
    if !wants_login {
        match join_sso_session(life, &ctx, req, &v, now).await {
            Ok(Some(url)) => return found(&url),
            Ok(None) => {}
            Err(e) => return Rejection::from(e).into(),
        }
    }
    if v.prompt.as_deref() == Some("none") {
        return error_redirect(&ctx, &v.redirect, v.state.as_deref(), "login_required", "No active session").into();
    }
    login_form(&ctx, req, &auth, auth.get("login_hint").unwrap_or_default(), None)
}

/// With a live SSO session, the client joins it: a client session is added (or refreshed)
/// and a code issued, without asking the person anything.
async fn join_sso_session(
    life: &Lifecycle,
    ctx: &RealmCtx,
    req: &HttpRequest,
    v: &Validated,
    now: Timestamp,
) -> Result<Option<String>, OAuthError> {
    let Some(session_id) = cookies::sso_session(ctx, req) else { return Ok(None) };
    let Some((session, _, _)) = live_session(life, &ctx.realm, session_id, now).await? else { return Ok(None) };
    if session.session_type != SessionType::Regular {
        return Ok(None);
    }
    let client_session = new_client_session(&session, &v.client, v.scopes.as_slice(), Some(&v.redirect_uri), now);
    sessions::upsert_client_session(life.store.conn(), &client_session).await?;
    sessions::touch(&life.store, session.id, now, TOUCH_GRANULARITY_MS).await?;
    tracing::info!(session = %session.id, client = %v.client.client_id, "client joined an SSO session");
    redirect_with_code(life, ctx, v, session.id, now).await.map(Some)
}

/// `GET /realms/{realm}/protocol/openid-connect/auth`
pub async fn authorize_get(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    authorize(&life, &req, &realm, &query).await
}

/// `POST /realms/{realm}/protocol/openid-connect/auth` (a form-posted authorization request)
pub async fn authorize_post(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    authorize(&life, &req, &realm, &form).await
}

/// `POST /realms/{realm}/login-actions/authenticate`: the sign-in form.
pub async fn authenticate(
    life: web::Data<Lifecycle>,
    req: HttpRequest,
    realm: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let ctx = match life.realm_ctx(&realm).await {
        Ok(ctx) => ctx,
        Err(e) => return Rejection::from(e).into(),
    };
    let auth = AuthRequest::from_map(&form);
    let v = match validate(&life, &ctx, &auth).await {
        Ok(v) => v,
        Err(rejection) => return rejection.into(),
    };
    let username = form.get("username").map(String::as_str).unwrap_or_default();
    if !cookies::csrf_ok(&req, form.get("csrf_token").map(String::as_str)) {
        return login_form(&ctx, &req, &auth, username, Some("Your sign-in form has expired. Please sign in again."));
    }
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return login_form(&ctx, &req, &auth, username, Some(&LoginFailure::Invalid.message()));
    }
    let now = Timestamp::now();
    let ip = crate::client_ip(&life, &req);
    let user = match signin::check_credentials(&life, &ctx.realm, username, password, &ip, now).await {
        Ok(Ok(user)) => user,
        Ok(Err(failure)) => {
            life.metrics.sign_in(failure.as_str());
            return login_form(&ctx, &req, &auth, username, Some(&failure.message()));
        }
        Err(e) => return Rejection::from(e).into(),
    };
    // Only where the realm offers it (as in Keycloak): a posted rememberMe is ignored otherwise.
    let remember_me = ctx.realm.remember_me && form.get("rememberMe").is_some_and(|v| v == "on");
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let origin = Origin { ip: &ip, user_agent };
    let started = signin::start_session(
        &life,
        &ctx.realm,
        &user,
        &v.client,
        SessionType::Regular,
        &origin,
        remember_me,
        v.scopes.as_slice(),
        Some(&v.redirect_uri),
        now,
    )
    .await;
    let session = match started {
        Ok(session) => session,
        Err(e) => return Rejection::from(e).into(),
    };
    life.metrics.sign_in("success");
    let url = match redirect_with_code(&life, &ctx, &v, session.id, now).await {
        Ok(url) => url,
        Err(e) => return Rejection::from(e).into(),
    };
    let max_age = remember_me.then(|| {
        let (_, max) = latchkey_domain::session::lifetimes(&ctx.realm.limits, SessionType::Regular, true);
        max.unwrap_or(ctx.realm.limits.sso_max)
    });
    let mut answer = found(&url);
    match cookies::sso_cookie(&ctx, session.id, max_age) {
        Ok(cookie) => {
            let _ = answer.add_cookie(&cookie);
        }
        Err(e) => return Rejection::from(e).into(),
    }
    answer
}
