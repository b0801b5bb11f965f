//! Offline sessions known by the id of the sign-in that started them, as in Keycloak: the
//! offline row keeps its own key (derived from that id, `SessionId::offline_of`) and records
//! the sign-in's id in `origin_id`, the id the admin API and the tokens show. Rows written
//! before have no origin and go on being known by their own id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum UserSessions {
    Table,
    OriginId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(UserSessions::Table)
                .add_column(ColumnDef::new(UserSessions::OriginId).uuid())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(UserSessions::Table).drop_column(UserSessions::OriginId).to_owned()).await
    }
}
