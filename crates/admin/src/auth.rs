//! Who is calling: a bearer access token issued by Latchkey itself, judged like any other
//! token (signature, expiry, live session), and the realm-management roles its user holds now.
//!
//! - No, expired, badly signed or cut-off token: 401.
//! - Only tokens issued to `admin-cli`, `security-admin-console`, a client an administrator
//!   allowed (`admin.api.access`) or a client's own service account are accepted: a token an
//!   administrator handed an ordinary application does not administer anything.
//! - The master realm's `admin` manages every realm; a user of realm R holding R's roles
//!   manages R only. Valid but not allowed: 403 — also for another realm, whether it exists
//!   or not.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{http::header, web, HttpMessage, HttpRequest, HttpResponse};
use latchkey_domain::{AdminRole, Realm, Timestamp, User};
use latchkey_lifecycle::tokens;
use latchkey_lifecycle::Lifecycle;

use crate::error::ApiError;

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: User,
    /// The realm the administrator belongs to.
    pub home: Realm,
    pub roles: Vec<AdminRole>,
    /// The client the token was issued to.
    pub client_id: String,
    pub ip: String,
}

impl Admin {
    /// The master realm's `admin`: every realm is theirs.
    pub fn manages_every_realm(&self) -> bool {
        self.home.is_master() && self.roles.contains(&AdminRole::Admin)
    }

    /// The realm named in the path, if this administrator may act in it with `role`.
    pub async fn realm(&self, life: &Lifecycle, name: &str, role: AdminRole) -> Result<Realm, ApiError> {
        if !self.manages_every_realm() {
            if name != self.home.name {
                return Err(ApiError::Forbidden("You do not have access to this realm".into()));
            }
            self.require(role)?;
            return Ok(self.home.clone());
        }
        let not_found = || ApiError::NotFound("Realm not found".into());
        // A name no realm can have (a NUL character, which PostgreSQL cannot compare) is not looked up.
        latchkey_domain::realm::validate_realm_name(name).map_err(|_| not_found())?;
        life.catalog.realm(life.store.conn(), name).await?.ok_or_else(not_found)
    }

    /// This administrator, as the ending step records who ended sessions.
    pub fn actor(&self) -> latchkey_lifecycle::audit::Actor {
        latchkey_lifecycle::audit::Actor {
            realm_id: Some(self.home.id),
            client_id: Some(self.client_id.clone()),
            user_id: Some(self.user.id),
            ip: Some(self.ip.clone()),
        }
    }

    /// Refuses unless the administrator may act on a user holding `target_roles`: every admin
    /// role the target holds must be held by the caller too (the rule for granting), so a user
    /// manager cannot take over a stronger administrator by resetting their password.
    pub fn require_at_least(&self, target_roles: &[AdminRole]) -> Result<(), ApiError> {
        match target_roles.iter().find(|role| !self.roles.iter().any(|held| held.satisfies(**role))) {
            None => Ok(()),
            Some(role) => {
                Err(ApiError::Forbidden(format!("The user holds the '{}' role, which you do not hold", role.as_str())))
            }
        }
    }

    /// Refuses unless this is the master realm's `admin`; `what` names the action refused.
    pub fn require_master_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.manages_every_realm() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("Only the master realm's admin {what}")))
        }
    }

    /// Refuses unless the administrator holds `role` (or one that includes it).
    pub fn require(&self, role: AdminRole) -> Result<(), ApiError> {
        if self.roles.iter().any(|held| held.satisfies(role)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("The '{}' role is required", role.as_str())))
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("HTTP 401 Unauthorized".into())
}

/// Middleware: every call under `/admin/` is authenticated before anything else reads it, so
/// a caller without a valid token gets 401 — never a 400 about a body it may not send, nor a
/// 404 about a resource it may not know of. The administrator found is kept for the handler.
pub async fn admin_calls_need_a_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_admin_path(req.match_info().as_str()) {
        if let Some(life) = req.app_data::<web::Data<Lifecycle>>().cloned() {
            match find_admin(&life, req.request()).await {
                Ok(admin) => {
                    req.extensions_mut().insert(admin);
                }
                Err(refused) => {
                    // Built from the error (not `into_response`) so the error stays attached for
                    // the audit of refused writes.
                    let (request, _) = req.into_parts();
                    return Ok(ServiceResponse::new(request, HttpResponse::from_error(refused)).map_into_right_body());
                }
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Whether a request is for the admin API, judged on the path as routing sees it (decoded, so
/// `/%61dmin/...` is an admin path too), not on the raw text.
pub fn is_admin_path(routed: &str) -> bool {
    routed == "/admin" || routed.starts_with("/admin/")
}

/// The administrator calling: found once per request (see [`admin_calls_need_a_token`]).
pub async fn authenticate(life: &Lifecycle, req: &HttpRequest) -> Result<Admin, ApiError> {
    if let Some(admin) = req.extensions().get::<Admin>() {
        return Ok(admin.clone());
    }
    find_admin(life, req).await
}

/// The address a request came from (see [`Lifecycle::client_ip`]).
pub fn client_ip(life: &Lifecycle, req: &HttpRequest) -> String {
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    life.client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
}

/// Authenticates the request's bearer token.
async fn find_admin(life: &Lifecycle, req: &HttpRequest) -> Result<Admin, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let token =
        value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or_else(unauthorized)?.trim();
    // The token names its realm in its issuer; it is then judged by that realm's rules.
    let claims = latchkey_lifecycle::jose::peek_claims(token).ok_or_else(unauthorized)?;
    let realm_name = claims["iss"].as_str().and_then(|iss| iss.rsplit_once("/realms/")).map(|(_, r)| r.to_owned());
    let realm_name = realm_name.ok_or_else(unauthorized)?;
    let ctx = life.realm_ctx(&realm_name).await.map_err(|_| unauthorized())?;
    let active = tokens::active_access_token(life, &ctx, token, Timestamp::now()).await?.map_err(|_| unauthorized())?;
    let own_service_account = active.user.service_account_of == Some(active.client.id);
    if !(active.client.may_call_admin_api() || own_service_account) {
        return Err(ApiError::Unauthorized(format!(
            "Tokens issued to client '{}' are not accepted by the admin API",
            active.client.client_id
        )));
    }
    let roles = life.catalog.roles(life.store.conn(), active.user.id).await?;
    Ok(Admin { user: active.user, home: ctx.realm, roles, client_id: active.claims.azp, ip: client_ip(life, req) })
}
