//! The schema, as sea-orm migrations that run the same on SQLite and PostgreSQL.
//! `docs/schema.md` explains why each index exists.

use sea_orm_migration::prelude::*;

mod m20261127_000001_initial;
mod m20261127_000002_oidc;
mod m20261127_000003_jobs;
mod m20261127_000004_session_counts;
mod m20261128_000005_trust;
mod m20261129_000006_catalog_version;
mod m20261129_000007_offline_origin;
mod m20261129_000008_realm_remember_me;
mod m20261206_000009_trust_by_id;
mod m20261206_000010_expiry;
mod m20261206_000011_matched_sessions;
mod m20261206_000012_ended_sessions;
mod m20261207_000013_limits_job;
mod m20261207_000014_client_live;
mod m20261207_000015_counts_without_rowid;
mod m20261207_000016_expiry_covering;

pub(crate) use m20261206_000010_expiry::expiry_sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261127_000002_oidc::Migration),
            Box::new(m20261127_000003_jobs::Migration),
            Box::new(m20261127_000004_session_counts::Migration),
            Box::new(m20261128_000005_trust::Migration),
            Box::new(m20261129_000006_catalog_version::Migration),
            Box::new(m20261129_000007_offline_origin::Migration),
            Box::new(m20261129_000008_realm_remember_me::Migration),
            Box::new(m20261206_000009_trust_by_id::Migration),
            Box::new(m20261206_000010_expiry::Migration),
            Box::new(m20261206_000011_matched_sessions::Migration),
            Box::new(m20261206_000012_ended_sessions::Migration),
            Box::new(m20261207_000013_limits_job::Migration),
            Box::new(m20261207_000014_client_live::Migration),
            Box::new(m20261207_000015_counts_without_rowid::Migration),
            Box::new(m20261207_000016_expiry_covering::Migration),
        ]
    }
}

/// Every index the schema must have, as (table, index), for checks of a live database.
pub const INDEXES: &[(&str, &str)] = &[
    ("realms", "ux_realms_name"),
    ("clients", "ux_clients_realm_client_id"),
    ("users", "ux_users_realm_username"),
    ("users", "ix_users_realm_email"),
    ("users", "ux_users_service_account"),
    ("user_sessions", "ix_user_sessions_user_live"),
    ("user_sessions", "ix_user_sessions_realm_ip"),
    ("user_sessions", "ix_user_sessions_realm_started"),
    ("user_sessions", "ix_user_sessions_live"),
    ("user_sessions", "ix_user_sessions_expiry"),
    ("user_sessions", "ix_user_sessions_ended"),
    ("client_sessions", "ix_client_sessions_live"),
    ("signing_keys", "ix_signing_keys_realm"),
    ("admin_events", "ix_admin_events_realm_time"),
    ("outbox", "ix_outbox_due"),
    ("outbox", "ix_outbox_request_group"),
    ("auth_codes", "ix_auth_codes_expires"),
    ("auth_codes", "ix_auth_codes_session"),
    ("session_jobs", "ix_session_jobs_done"),
];

/// Every table the schema creates.
pub const TABLES: &[&str] = &[
    "realms",
    "clients",
    "users",
    "role_grants",
    "user_sessions",
    "client_sessions",
    "signing_keys",
    "admin_events",
    "outbox",
    "auth_codes",
    "login_failures",
    "session_jobs",
    "session_counts",
    "catalog_version",
];
