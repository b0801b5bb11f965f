//! OAuth errors as the specs name them, answered as JSON with `error` and
//! `error_description`, never cached, never a bare 500 for bad input.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use latchkey_store::StoreError;
use serde_json::json;

use latchkey_lifecycle::LifecycleError;

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Sent as `WWW-Authenticate` (401s of the token and userinfo endpoints).
    pub challenge: Option<String>,
    /// Sent as `Retry-After`, seconds (429 and 503).
    pub retry_after: Option<i64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into(), challenge: None, retry_after: None }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }

    pub fn invalid_client(d: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d);
        e.challenge = Some("Basic realm=\"latchkey\"".into());
        e
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }

    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }

    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }

    pub fn invalid_token(d: impl Into<String>) -> Self {
        let d = d.into();
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d.clone());
        e.challenge = Some(format!("Bearer error=\"invalid_token\", error_description=\"{}\"", d.replace('"', "'")));
        e
    }

    pub fn too_many_attempts(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_grant",
            format!("Too many failed sign-in attempts; try again in {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// Too many failed client authentications of this client from this address.
    pub fn client_throttled(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client",
            format!("Too many failed client authentications; try again in {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// Every password-hashing slot is taken: answered at once rather than queued.
    pub fn busy() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server is busy checking credentials; try again shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// The database cannot be reached: 503, try again in a second.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "the database is unavailable");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server cannot reach its database; try again shortly",
        );
        e.retry_after = Some(1);
        e
    }

    pub fn realm_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Realm does not exist")
    }

    pub fn server_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "provider request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        answer.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
        if let Some(challenge) = &self.challenge {
            answer.insert_header((header::WWW_AUTHENTICATE, challenge.clone()));
        }
        if let Some(seconds) = self.retry_after {
            answer.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        answer.json(json!({"error": self.error, "error_description": self.description}))
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => OAuthError::unavailable(cause),
            other => OAuthError::server_error(other),
        }
    }
}

/// Each kind of lifecycle error answered as OAuth says: a busy server is 503
/// `temporarily_unavailable`, a throttled client 429 `invalid_client`, an unknown realm 404.
impl From<LifecycleError> for OAuthError {
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::RealmNotFound => OAuthError::realm_not_found(),
            LifecycleError::Busy => OAuthError::busy(),
            LifecycleError::ClientThrottled { retry_after } => OAuthError::client_throttled(retry_after),
            LifecycleError::Store(store) => store.into(),
            LifecycleError::Key(_) | LifecycleError::Internal(_) => OAuthError::server_error(err),
        }
    }
}
