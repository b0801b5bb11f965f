//! Maintained session counts, so that counting a client's sessions (or a realm's) reads a few
//! rows instead of the client's range of the session index. See `crate::counts`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SessionCounts {
    Table,
    RealmId,
    ClientId,
    SessionType,
    Slot,
    N,
}

#[derive(DeriveIden, Clone, Copy)]
enum Realms {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SessionCounts::Table)
                .col(ColumnDef::new(SessionCounts::RealmId).uuid().not_null())
                .col(ColumnDef::new(SessionCounts::ClientId).uuid().not_null())
                .col(ColumnDef::new(SessionCounts::SessionType).string_len(16).not_null())
                .col(ColumnDef::new(SessionCounts::Slot).small_integer().not_null())
                .col(ColumnDef::new(SessionCounts::N).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(SessionCounts::RealmId)
                        .col(SessionCounts::ClientId)
                        .col(SessionCounts::SessionType)
                        .col(SessionCounts::Slot),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(SessionCounts::Table, SessionCounts::RealmId)
                        .to(Realms::Table, Realms::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
        // Databases that already held sessions are counted by migration 10, which gives the
        // table its final shape.
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SessionCounts::Table).to_owned()).await
    }
}
