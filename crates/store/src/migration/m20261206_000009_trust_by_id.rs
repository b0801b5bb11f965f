//! Trust follows ids, never names. Which clients' tokens the admin API accepts becomes the
//! clients' own `admin_api_access` (set for every realm's `admin-cli` and
//! `security-admin-console`, which were trusted by their names before). A service account is
//! found by the id of its client: at most one per client, so a client renamed (or a new one
//! named like an old one) never inherits another's account. Where an earlier rename left a
//! client with two accounts, the one named after the client as it is now (else the oldest)
//! stays its account; the others become ordinary users that no client acts as.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    ServiceAccountOf,
}

const INDEX: &str = "ux_users_service_account";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE clients SET admin_api_access = TRUE \
             WHERE client_id IN ('admin-cli', 'security-admin-console')",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE users SET service_account_of = NULL WHERE id IN (\
               SELECT id FROM (\
                 SELECT u.id, ROW_NUMBER() OVER (PARTITION BY u.service_account_of \
                   ORDER BY CASE WHEN u.username = 'service-account-' || LOWER(c.client_id) THEN 0 ELSE 1 END, \
                            u.created_at, u.id) AS rank \
                 FROM users u LEFT JOIN clients c ON c.id = u.service_account_of \
                 WHERE u.service_account_of IS NOT NULL) ranked \
               WHERE ranked.rank > 1)",
        )
        .await?;
        m.create_index(Index::create().name(INDEX).table(Users::Table).col(Users::ServiceAccountOf).unique().to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned()).await
    }
}
