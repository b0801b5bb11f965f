//! What every answer says about itself, and what the request log may say about a request.
//!
//! - `Strict-Transport-Security` when the public URL is https (also behind a TLS proxy: the
//!   public URL, not the connection, says how clients reach the server).
//! - `Cache-Control: no-store` on every admin API answer (users, client secrets shown once,
//!   sessions); the OIDC endpoints set it themselves on everything that carries a token.
//! - `X-Content-Type-Options: nosniff` everywhere.
//! - The request log never holds a secret from a query string (`id_token_hint`, `code`, …).
//! - Every request runs in a `request` span with a request id — the caller's `X-Request-Id` when
//!   it is a plain token, else a new one — echoed in the answer's `X-Request-Id`, so the log
//!   lines of one call (JSON `spans`) can be picked out and matched with what the caller saw.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Logger, Next};
use actix_web::{web, HttpMessage};

/// Query parameters whose values never reach the log.
const SECRET_PARAMS: &[&str] = &[
    "id_token_hint",
    "code",
    "code_verifier",
    "token",
    "access_token",
    "refresh_token",
    "client_secret",
    "password",
    "logout_token",
    "client_assertion",
    "session_state",
];

/// Whether answers carry `Strict-Transport-Security` (the public URL is https).
#[derive(Debug, Clone, Copy)]
pub struct Hsts(pub bool);

/// Middleware: the headers above.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let hsts = req.app_data::<web::Data<Hsts>>().is_some_and(|h| h.0);
    let admin = latchkey_admin::auth::is_admin_path(req.match_info().as_str());
    let mut answer = next.call(req).await?;
    let headers = answer.headers_mut();
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if admin && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(answer)
}

/// The request's id, for the request log line (written outside the request's span).
#[derive(Debug, Clone)]
struct RequestId(String);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's request id is kept only when it is short and plain (no log injection).
fn usable_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware: the request span and its id (see the module's description).
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut answer = next.call(req).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        answer.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(answer)
}

/// The request line with the values of secret query parameters replaced.
fn redacted_request_line(req: &ServiceRequest) -> String {
    let query = req.query_string();
    let shown = if query.is_empty() {
        String::new()
    } else {
        let pairs = query.split('&').map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let decoded = url::form_urlencoded::parse(name.as_bytes()).next().map(|(k, _)| k.into_owned());
            if decoded.as_deref().is_some_and(|k| SECRET_PARAMS.contains(&k)) {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
        });
        format!("?{}", pairs.collect::<Vec<_>>().join("&"))
    };
    format!("{} {}{shown} {:?}", req.method(), req.path(), req.version())
}

/// One log line per request: the redacted request line, status, duration and request id.
pub fn request_log() -> Logger {
    Logger::new("%{request}xi %s %Dms request_id=%{request_id}xi")
        .custom_request_replace("request", redacted_request_line)
        .custom_request_replace("request_id", |req| {
            req.extensions().get::<RequestId>().map(|id| id.0.clone()).unwrap_or_default()
        })
        .log_target("latchkey_server::http")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(usable_request_id("3f2a9c1e-77aa-4c1e-9d0a-1b2c3d4e5f60") && usable_request_id("lb:1234.5"));
        assert!(!usable_request_id("") && !usable_request_id("a b") && !usable_request_id("x\ny"));
        assert!(!usable_request_id(&"a".repeat(65)));
    }

    #[test]
    fn secrets_in_query_strings_are_redacted() {
        let req = TestRequest::get()
            .uri("/realms/demo/protocol/openid-connect/logout?id_token_hint=eyJ.secret.sig&state=s1&%63ode=abc")
            .to_srv_request();
        let line = redacted_request_line(&req);
        assert!(!line.contains("eyJ.secret") && !line.contains("abc"), "{line}");
        assert!(line.contains("state=s1") && line.contains("id_token_hint=[redacted]"), "{line}");
    }
}
