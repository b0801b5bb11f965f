//! What the OpenID Connect provider keeps: authorization codes, refresh-token rotation, the
//! realm's signature algorithm, and failed sign-ins for throttling.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Realms {
    Table,
    SignatureAlgorithm,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClientSessions {
    Table,
    RefreshTokenId,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserSessions {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuthCodes {
    Table,
    CodeHash,
    RealmId,
    ClientId,
    UserSessionId,
    RedirectUri,
    Scope,
    Nonce,
    CodeChallenge,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LoginFailures {
    Table,
    RealmId,
    Subject,
    Failures,
    LastFailureAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Realms::Table)
                .add_column(ColumnDef::new(Realms::SignatureAlgorithm).string_len(16).not_null().default("RS256"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ClientSessions::Table)
                .add_column(ColumnDef::new(ClientSessions::RefreshTokenId).string_len(64))
                .to_owned(),
        )
        .await?;

        // Codes are stored as SHA-256 hashes: a leaked table grants nothing.
        m.create_table(
            Table::create()
                .table(AuthCodes::Table)
                .col(ColumnDef::new(AuthCodes::CodeHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(AuthCodes::RealmId).uuid().not_null())
                .col(ColumnDef::new(AuthCodes::ClientId).uuid().not_null())
                .col(ColumnDef::new(AuthCodes::UserSessionId).uuid().not_null())
                .col(ColumnDef::new(AuthCodes::RedirectUri).text().not_null())
                .col(ColumnDef::new(AuthCodes::Scope).text().not_null())
                .col(ColumnDef::new(AuthCodes::Nonce).text())
                .col(ColumnDef::new(AuthCodes::CodeChallenge).string_len(128))
                .col(ColumnDef::new(AuthCodes::ExpiresAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(AuthCodes::Table, AuthCodes::UserSessionId)
                        .to(UserSessions::Table, UserSessions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_auth_codes_expires").table(AuthCodes::Table).col(AuthCodes::ExpiresAt).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginFailures::Table)
                .col(ColumnDef::new(LoginFailures::RealmId).uuid().not_null())
                .col(ColumnDef::new(LoginFailures::Subject).string_len(320).not_null())
                .col(ColumnDef::new(LoginFailures::Failures).integer().not_null())
                .col(ColumnDef::new(LoginFailures::LastFailureAt).big_integer().not_null())
                .primary_key(Index::create().col(LoginFailures::RealmId).col(LoginFailures::Subject))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LoginFailures::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(AuthCodes::Table).to_owned()).await?;
        m.alter_table(
            Table::alter().table(ClientSessions::Table).drop_column(ClientSessions::RefreshTokenId).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Realms::Table).drop_column(Realms::SignatureAlgorithm).to_owned()).await?;
        Ok(())
    }
}
