//! Background work on sessions that must not happen on the request path: removing and
//! notifying the sessions cut off by a logout-all, and the client sessions of a disabled client.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SessionJobs {
    Table,
    Id,
    RealmId,
    Kind,
    ClientId,
    Cutoff,
    RequestGroup,
    CreatedAt,
    DoneAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SessionJobs::Table)
                .col(ColumnDef::new(SessionJobs::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(SessionJobs::RealmId).uuid().not_null())
                .col(ColumnDef::new(SessionJobs::Kind).string_len(32).not_null())
                .col(ColumnDef::new(SessionJobs::ClientId).uuid())
                .col(ColumnDef::new(SessionJobs::Cutoff).big_integer().not_null())
                .col(ColumnDef::new(SessionJobs::RequestGroup).uuid())
                .col(ColumnDef::new(SessionJobs::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(SessionJobs::DoneAt).big_integer())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_session_jobs_done")
                .table(SessionJobs::Table)
                .col(SessionJobs::DoneAt)
                .col(SessionJobs::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SessionJobs::Table).to_owned()).await
    }
}
