//! Realms as administrators see them: the list, one realm, and its partial update (the
//! revocation policy `notBefore` among it).

use actix_web::{delete, get, post, put, HttpResponse};
use latchkey_domain::{AdminRole, Client, Realm, Timestamp};
use latchkey_lifecycle::audit::{AdminAction, Operation, Resource};
use latchkey_store::realms;
use latchkey_store::{clients, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::authorized::{Authenticated, InRealm, ManageRealm, ViewRealm};
use crate::body::Json;
use crate::error::{ApiError, ErrorBody};
use crate::repr::{RealmRepresentation, RealmUpdate};

/// The realms this administrator may see.
#[utoipa::path(
    tag = "realms",
    responses(
        (status = 200, description = "The realms", body = Vec<RealmRepresentation>),
    )
)]
#[get("/admin/realms")]
pub async fn list_realms(caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let Authenticated { admin, life } = caller;
    let all = realms::list(life.store.conn()).await?;
    let visible: Vec<RealmRepresentation> = all
        .iter()
        .filter(|r| {
            admin.manages_every_realm() || (r.id == admin.home.id && admin.require(AdminRole::ViewRealm).is_ok())
        })
        .map(RealmRepresentation::from)
        .collect();
    Ok(HttpResponse::Ok().json(visible))
}

/// One realm.
#[utoipa::path(
    tag = "realms",
    params(crate::contract::path::InRealm),
    responses(
        (status = 200, description = "The realm", body = RealmRepresentation),
        (status = 403, description = "Not allowed: needs view-realm", body = ErrorBody),
    )
)]
#[get("/admin/realms/{realm}")]
pub async fn get_realm(at: InRealm<ViewRealm>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RealmRepresentation::from(&at.realm)))
}

/// Updates the fields present; `{"notBefore": N}` sets (or, with 0, clears) the revocation
/// policy. Clearing it never revives sessions ended by logout-all.
#[utoipa::path(
    tag = "realms",
    params(crate::contract::path::InRealm),
    request_body = RealmUpdate,
    responses(
        (status = 204, description = "Updated"),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not allowed: needs manage-realm", body = ErrorBody),
        (status = 409, description = "The master realm cannot be disabled", body = ErrorBody),
    )
)]
#[put("/admin/realms/{realm}")]
pub async fn update_realm(at: InRealm<ManageRealm>, body: Json<RealmUpdate>) -> Result<HttpResponse, ApiError> {
    let u = body.into_inner();
    let action = at.action(Operation::Update, Resource::Realm, String::new()).sent(&u);
    let mut realm = at.realm.clone();
    apply(&mut realm, u)?;
    if realm.is_master() && !realm.enabled {
        return Err(ApiError::Conflict(
            "The master realm cannot be disabled: no administrator could sign in to enable it again".into(),
        ));
    }
    let txn = at.life.store.begin().await?;
    realms::update_changed(&txn, &at.realm, &realm).await?;
    at.commit(txn, &action).await?;
    if realm.limits != at.realm.limits {
        // The sessions' expiries move to the new limits in the background (a session job).
        at.life.reap_soon();
    }
    tracing::info!(realm = %realm.name, admin = %at.admin.user.username, "realm updated");
    Ok(HttpResponse::NoContent().finish())
}

/// Applies the fields present in `u` to `realm`, checking each.
fn apply(realm: &mut Realm, u: RealmUpdate) -> Result<(), ApiError> {
    if let Some(nb) = u.not_before {
        if !nb.is_finite() || nb < 0.0 {
            return Err(ApiError::BadRequest("notBefore must be a non-negative number of seconds".into()));
        }
        realm.not_before = nb.trunc() as i64;
    }
    if let Some(name) = u.display_name {
        realm.display_name = (!name.is_empty()).then_some(name);
    }
    if let Some(enabled) = u.enabled {
        realm.enabled = enabled;
    }
    if let Some(remember_me) = u.remember_me {
        realm.remember_me = remember_me;
    }
    let l = &mut realm.limits;
    let fields = [
        (u.sso_session_idle_timeout, &mut l.sso_idle),
        (u.sso_session_max_lifespan, &mut l.sso_max),
        (u.sso_session_idle_timeout_remember_me, &mut l.sso_idle_remember_me),
        (u.sso_session_max_lifespan_remember_me, &mut l.sso_max_remember_me),
        (u.offline_session_idle_timeout, &mut l.offline_idle),
        (u.offline_session_max_lifespan, &mut l.offline_max),
    ];
    for (value, field) in fields {
        if let Some(v) = value {
            *field = v;
        }
    }
    if let Some(enabled) = u.offline_session_max_lifespan_enabled {
        l.offline_max_enabled = enabled;
    }
    l.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Some(lifespan) = u.access_token_lifespan {
        latchkey_domain::realm::validate_access_token_lifespan(lifespan)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        realm.access_token_lifespan = lifespan;
    }
    if let Some(alg) = u.default_signature_algorithm {
        realm.signature_algorithm = alg.into();
    }
    Ok(())
}

/// A realm to create: its name, and any of the fields of an update.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"realm": "acme", "displayName": "ACME", "enabled": true}))]
pub struct NewRealm {
    #[schema(schema_with = crate::input::realm_name_schema)]
    pub realm: String,
    #[serde(flatten)]
    pub settings: RealmUpdate,
}

/// Creates a realm (master administrators only), with an `admin-cli` client for scripts.
#[utoipa::path(
    tag = "realms",
    request_body = NewRealm,
    responses(
        (status = 201, description = "Created", headers(("Location" = String, description = "The new realm's URL"))),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not allowed: only the master realm's admin creates realms", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    )
)]
#[post("/admin/realms")]
pub async fn create_realm(caller: Authenticated, body: Json<NewRealm>) -> Result<HttpResponse, ApiError> {
    caller.admin.require_master_admin("creates realms")?;
    let Authenticated { admin, life } = caller;
    let NewRealm { realm: name, settings } = body.into_inner();
    let sent = AdminAction {
        actor: admin.actor(),
        operation: Operation::Create,
        resource: Resource::Realm,
        path: String::new(),
        representation: None,
    }
    .sent(&settings);
    let now = Timestamp::now();
    let mut realm = Realm::new(&name, now).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    apply(&mut realm, settings)?;
    let defaults = Client::realm_defaults(realm.id, now).map_err(|e| ApiError::Internal(e.to_string()))?;
    let txn = life.store.begin().await?;
    realms::insert(&txn, &realm).await?;
    for client in &defaults {
        clients::insert(&txn, client).await?;
    }
    sent.record_in(&txn, realm.id, now).await?;
    txn.commit().await.map_err(StoreError::from)?;
    life.catalog_changed().await;
    let location = format!("{}/admin/realms/{}", life.base_url(), realm.name);
    Ok(HttpResponse::Created().insert_header(("Location", location)).finish())
}

/// Deletes a realm and everything in it (master administrators only; never `master`).
#[utoipa::path(
    tag = "realms",
    params(crate::contract::path::InRealm),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The master realm cannot be deleted", body = ErrorBody),
        (status = 403, description = "Not allowed: only the master realm's admin deletes realms", body = ErrorBody),
    )
)]
#[delete("/admin/realms/{realm}")]
pub async fn delete_realm(at: InRealm<ManageRealm>) -> Result<HttpResponse, ApiError> {
    at.admin.require_master_admin("deletes realms")?;
    if at.realm.is_master() {
        return Err(ApiError::Conflict(
            "The master realm cannot be deleted: its administrators manage every realm".into(),
        ));
    }
    let txn = at.life.store.begin().await?;
    realms::delete(&txn, at.realm.id).await?;
    at.commit(txn, &at.action(Operation::Delete, Resource::Realm, String::new())).await?;
    Ok(HttpResponse::NoContent().finish())
}
