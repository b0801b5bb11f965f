//! What the admin console asks about its user: Keycloak's `whoami`, which names the
//! administrator and the roles it holds in each realm it may manage, so the console shows
//! only what it can use.

use std::collections::BTreeMap;

use actix_web::{get, web, HttpResponse};
use latchkey_domain::AdminRole;
use latchkey_store::realms;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::authorized::Authenticated;
use crate::error::{ApiError, ErrorBody};

/// Keycloak's `whoami` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"userId": "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2", "userName": "admin", "realm": "master",
    "displayName": "admin", "locale": "en", "createRealm": true,
    "realm_access": {"demo": ["view-users", "manage-users", "view-clients", "manage-clients", "view-realm", "manage-realm"]}}))]
pub struct WhoAmI {
    pub user_id: String,
    pub user_name: String,
    /// The realm the administrator signed in to.
    pub realm: String,
    pub display_name: String,
    pub locale: String,
    /// Whether this administrator may create realms (the master realm's `admin`).
    pub create_realm: bool,
    /// Per realm it may manage, the roles it holds there (`realm-admin` spelled out).
    #[serde(rename = "realm_access")]
    pub realm_access: BTreeMap<String, Vec<String>>,
}

/// The roles a holder of `held` has, each spelled out (`realm-admin` and `admin` imply all).
fn spelled_out(held: &[AdminRole]) -> Vec<String> {
    AdminRole::ALL
        .into_iter()
        .filter(|r| !matches!(r, AdminRole::Admin | AdminRole::RealmAdmin))
        .filter(|r| held.iter().any(|h| h.satisfies(*r)))
        .map(|r| r.as_str().to_owned())
        .collect()
}

/// Who is calling, and what it may do in which realm.
#[utoipa::path(
    tag = "console",
    params(("realm" = String, Path, description = "The realm the administrator signed in to", example = "master")),
    responses(
        (status = 200, description = "The administrator and its roles per realm", body = WhoAmI),
        (status = 403, description = "The token is of another realm", body = ErrorBody),
    )
)]
#[get("/admin/{realm}/console/whoami")]
pub async fn whoami(caller: Authenticated, realm: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let Authenticated { admin, life } = caller;
    if admin.home.name != *realm {
        return Err(ApiError::Forbidden("The token is not of this realm".into()));
    }
    let every_realm = admin.home.is_master() && admin.roles.contains(&AdminRole::Admin);
    let mut realm_access = BTreeMap::new();
    if every_realm {
        for r in realms::list(life.store.conn()).await? {
            realm_access.insert(r.name, spelled_out(&[AdminRole::RealmAdmin]));
        }
    } else {
        let roles = spelled_out(&admin.roles);
        if !roles.is_empty() {
            realm_access.insert(admin.home.name.clone(), roles);
        }
    }
    let display_name = match (&admin.user.first_name, &admin.user.last_name) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (Some(first), None) => first.clone(),
        _ => admin.user.username.clone(),
    };
    Ok(HttpResponse::Ok().json(WhoAmI {
        user_id: admin.user.id.to_string(),
        user_name: admin.user.username.clone(),
        realm: admin.home.name.clone(),
        display_name,
        locale: "en".into(),
        create_realm: every_realm,
        realm_access,
    }))
}
