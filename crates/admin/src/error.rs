//! The admin API's one error type: a status and the JSON body Keycloak's clients read —
//! `{"error": ..., "error_description": ...}` with `errorMessage` beside it (Keycloak's admin
//! API uses both spellings; its client libraries look for either).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use latchkey_lifecycle::LifecycleError;
use latchkey_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A short machine-readable code.
    #[schema(example = "not_found")]
    pub error: String,
    /// What was wrong, for people.
    #[schema(example = "Session not found")]
    pub error_description: String,
    /// The same message, under the name Keycloak's admin API uses.
    #[serde(rename = "errorMessage")]
    #[schema(example = "Session not found")]
    pub error_message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "server_error",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::Unavailable(_) => {
                ApiError::Unavailable("The server cannot reach its database; try again shortly".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Each kind of lifecycle error keeps its meaning: a busy server is 503, a throttled client
/// 429, an unknown realm 404; only a fault of the server is a 500.
impl From<LifecycleError> for ApiError {
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::RealmNotFound => ApiError::NotFound("Realm not found".into()),
            LifecycleError::Busy => {
                ApiError::Unavailable("The server is busy checking credentials; try again shortly".into())
            }
            LifecycleError::ClientThrottled { .. } => ApiError::TooManyRequests(err.to_string()),
            LifecycleError::Store(err) => err.into(),
            LifecycleError::Key(_) | LifecycleError::Internal(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        let mut answer = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized(_)) {
            answer.insert_header(("WWW-Authenticate", "Bearer realm=\"latchkey\""));
        }
        let message = self.to_string();
        answer.json(ErrorBody {
            error: self.code().to_owned(),
            error_description: message.clone(),
            error_message: message,
        })
    }
}

/// JSON bodies: at most 1 MiB; malformed JSON or wrong types are a 400 saying what was wrong.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default().limit(1024 * 1024).error_handler(|err, _| {
        use actix_web::error::JsonPayloadError;
        match err {
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                ApiError::TooLarge(format!("the body is larger than {limit} bytes")).into()
            }
            JsonPayloadError::ContentType => ApiError::BadRequest("the body must be application/json".into()).into(),
            other => ApiError::BadRequest(format!("the body is not valid JSON for this request: {other}")).into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use latchkey_lifecycle::LifecycleError;
    use latchkey_store::StoreError;

    use super::ApiError;

    #[test]
    fn lifecycle_refusals_keep_their_meaning() {
        let status = |e: LifecycleError| ApiError::from(e).status_code().as_u16();
        assert_eq!(status(LifecycleError::ClientThrottled { retry_after: 3 }), 429);
        assert_eq!(status(LifecycleError::Busy), 503);
        assert_eq!(status(LifecycleError::RealmNotFound), 404);
        assert_eq!(status(LifecycleError::Store(StoreError::Conflict("User".into()))), 409);
        assert_eq!(status(LifecycleError::internal("boom")), 500);
    }
}
