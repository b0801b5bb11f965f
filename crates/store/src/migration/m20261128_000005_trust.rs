//! Trust: clients an administrator lets call the admin API with their tokens, and
//! authorization codes kept (marked used) until they expire, so a replayed code is recognised
//! and what was issued from it revoked.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    AdminApiAccess,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuthCodes {
    Table,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(ColumnDef::new(Clients::AdminApiAccess).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(AuthCodes::Table)
                .add_column(ColumnDef::new(AuthCodes::UsedAt).big_integer())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(AuthCodes::Table).drop_column(AuthCodes::UsedAt).to_owned()).await?;
        m.alter_table(Table::alter().table(Clients::Table).drop_column(Clients::AdminApiAccess).to_owned()).await
    }
}
