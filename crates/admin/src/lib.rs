//! Latchkey's admin REST API at Keycloak's paths (`/admin/realms/...`) with Keycloak's JSON
//! shapes, so the clients people already script with work unchanged. Every call is
//! authenticated with a bearer token from Latchkey itself and checked against the caller's
//! realm-management roles; the OpenAPI document is collected from these same registrations.

pub mod audit;
pub mod auth;
pub mod authorized;
pub mod body;
pub mod client_settings;
pub mod clients;
pub mod console;
pub mod contract;
pub mod error;
pub mod input;
pub mod query;
pub mod realms;
pub mod repr;
pub mod role_mappings;
pub mod sessions;
pub mod users;

pub use contract::{BearerAuth, CommonAnswers};

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every admin route (and, through it, its OpenAPI operation).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(realms::list_realms)
        .service(realms::create_realm)
        .service(sessions::list_realm_sessions)
        .service(sessions::list_client_sessions_ui)
        .service(sessions::client_session_stats)
        .service(sessions::list_client_user_sessions)
        .service(sessions::list_client_offline_sessions)
        .service(sessions::count_client_sessions)
        .service(sessions::count_client_offline_sessions)
        .service(sessions::list_user_sessions)
        .service(sessions::list_user_offline_sessions)
        .service(sessions::logout_user)
        .service(sessions::delete_session)
        .service(sessions::logout_all)
        .service(sessions::push_realm_revocation)
        .service(sessions::push_client_revocation)
        .service(users::count_users)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(users::reset_password)
        .service(users::get_admin_roles)
        .service(users::set_admin_roles)
        .service(role_mappings::get_role_mappings)
        .service(role_mappings::get_client_role_mappings)
        .service(role_mappings::add_client_role_mappings)
        .service(role_mappings::delete_client_role_mappings)
        .service(role_mappings::get_available_client_roles)
        .service(role_mappings::get_composite_client_roles)
        .service(role_mappings::list_client_roles)
        .service(role_mappings::get_client_role)
        .service(clients::list_clients)
        .service(clients::create_client)
        .service(clients::get_client)
        .service(clients::update_client)
        .service(clients::delete_client)
        .service(clients::regenerate_secret)
        .service(audit::list_admin_events)
        .service(console::whoami)
        .service(realms::get_realm)
        .service(realms::update_realm)
        .service(realms::delete_realm);
}
