//! `rememberMe` of a realm, as in Keycloak: whether its sign-in page offers "Remember me".
//! Realms that exist keep offering it, as they did before the setting existed; a new realm
//! starts without it (Keycloak's default).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Realms {
    Table,
    RememberMe,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Realms::Table)
                .add_column(ColumnDef::new(Realms::RememberMe).boolean().not_null().default(true))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Realms::Table).drop_column(Realms::RememberMe).to_owned()).await
    }
}
