//! Realms, clients, users, role grants, sessions, signing keys, the audit log and the outbox.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Realms {
    Table,
    Id,
    Name,
    DisplayName,
    Enabled,
    NotBefore,
    SessionCutoff,
    SsoIdle,
    SsoMax,
    SsoIdleRememberMe,
    SsoMaxRememberMe,
    OfflineIdle,
    OfflineMaxEnabled,
    OfflineMax,
    AccessTokenLifespan,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    Id,
    RealmId,
    ClientId,
    Name,
    Protocol,
    Enabled,
    PublicClient,
    SecretHash,
    RedirectUris,
    WebOrigins,
    RootUrl,
    BaseUrl,
    AdminUrl,
    BackchannelLogoutUrl,
    BackchannelLogoutSessionRequired,
    BackchannelLogoutRevokeOffline,
    FrontchannelLogout,
    DirectAccessGrants,
    StandardFlow,
    ServiceAccounts,
    PkceRequired,
    NotBefore,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    RealmId,
    Username,
    Email,
    EmailVerified,
    FirstName,
    LastName,
    Enabled,
    PasswordHash,
    NotBefore,
    ServiceAccountOf,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RoleGrants {
    Table,
    UserId,
    Role,
    GrantedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserSessions {
    Table,
    Id,
    RealmId,
    UserId,
    SessionType,
    IpAddress,
    UserAgent,
    StartedAt,
    LastAccess,
    RememberMe,
    State,
    EndedAt,
    EndReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClientSessions {
    Table,
    UserSessionId,
    ClientId,
    RealmId,
    SessionType,
    StartedAt,
    LastRefresh,
    Scopes,
    RedirectUri,
}

#[derive(DeriveIden, Clone, Copy)]
enum SigningKeys {
    Table,
    Kid,
    RealmId,
    Algorithm,
    PrivateKey,
    PublicKey,
    Active,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AdminEvents {
    Table,
    Id,
    Time,
    RealmId,
    AuthRealmId,
    AuthClientId,
    AuthUserId,
    IpAddress,
    OperationType,
    ResourceType,
    ResourcePath,
    Representation,
    Outcome,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Id,
    RealmId,
    ClientId,
    Kind,
    Url,
    Payload,
    RequestGroup,
    Status,
    Attempts,
    NextAttemptAt,
    DeadlineAt,
    ClaimedBy,
    ClaimedUntil,
    LastError,
    CreatedAt,
    DeliveredAt,
}

fn fk<A: IntoIden + 'static, B: IntoIden + 'static, C: IntoIden + 'static, D: IntoIden + 'static>(
    from: (A, B),
    to: (C, D),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

fn index<C: Iden + Copy + 'static>(name: &str, table: C, columns: &[C]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).to_owned();
    for column in columns {
        stmt.col(*column);
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Realms::Table)
                .col(ColumnDef::new(Realms::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Realms::Name).string_len(255).not_null())
                .col(ColumnDef::new(Realms::DisplayName).string_len(255))
                .col(ColumnDef::new(Realms::Enabled).boolean().not_null())
                .col(ColumnDef::new(Realms::NotBefore).big_integer().not_null().default(0))
                .col(ColumnDef::new(Realms::SessionCutoff).big_integer().not_null().default(0))
                .col(ColumnDef::new(Realms::SsoIdle).big_integer().not_null())
                .col(ColumnDef::new(Realms::SsoMax).big_integer().not_null())
                .col(ColumnDef::new(Realms::SsoIdleRememberMe).big_integer().not_null().default(0))
                .col(ColumnDef::new(Realms::SsoMaxRememberMe).big_integer().not_null().default(0))
                .col(ColumnDef::new(Realms::OfflineIdle).big_integer().not_null())
                .col(ColumnDef::new(Realms::OfflineMaxEnabled).boolean().not_null())
                .col(ColumnDef::new(Realms::OfflineMax).big_integer().not_null())
                .col(ColumnDef::new(Realms::AccessTokenLifespan).big_integer().not_null())
                .col(ColumnDef::new(Realms::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(index("ux_realms_name", Realms::Table, &[Realms::Name]).unique().to_owned()).await?;

        m.create_table(
            Table::create()
                .table(Clients::Table)
                .col(ColumnDef::new(Clients::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Clients::RealmId).uuid().not_null())
                .col(ColumnDef::new(Clients::ClientId).string_len(255).not_null())
                .col(ColumnDef::new(Clients::Name).string_len(255))
                .col(ColumnDef::new(Clients::Protocol).string_len(32).not_null())
                .col(ColumnDef::new(Clients::Enabled).boolean().not_null())
                .col(ColumnDef::new(Clients::PublicClient).boolean().not_null())
                .col(ColumnDef::new(Clients::SecretHash).text())
                .col(ColumnDef::new(Clients::RedirectUris).text().not_null())
                .col(ColumnDef::new(Clients::WebOrigins).text().not_null())
                .col(ColumnDef::new(Clients::RootUrl).text())
                .col(ColumnDef::new(Clients::BaseUrl).text())
                .col(ColumnDef::new(Clients::AdminUrl).text())
                .col(ColumnDef::new(Clients::BackchannelLogoutUrl).text())
                .col(ColumnDef::new(Clients::BackchannelLogoutSessionRequired).boolean().not_null())
                .col(ColumnDef::new(Clients::BackchannelLogoutRevokeOffline).boolean().not_null())
                .col(ColumnDef::new(Clients::FrontchannelLogout).boolean().not_null())
                .col(ColumnDef::new(Clients::DirectAccessGrants).boolean().not_null())
                .col(ColumnDef::new(Clients::StandardFlow).boolean().not_null())
                .col(ColumnDef::new(Clients::ServiceAccounts).boolean().not_null())
                .col(ColumnDef::new(Clients::PkceRequired).boolean().not_null())
                .col(ColumnDef::new(Clients::NotBefore).big_integer().not_null().default(0))
                .col(ColumnDef::new(Clients::CreatedAt).big_integer().not_null())
                .foreign_key(&mut fk((Clients::Table, Clients::RealmId), (Realms::Table, Realms::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ux_clients_realm_client_id", Clients::Table, &[Clients::RealmId, Clients::ClientId])
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Users::RealmId).uuid().not_null())
                .col(ColumnDef::new(Users::Username).string_len(255).not_null())
                .col(ColumnDef::new(Users::Email).string_len(320))
                .col(ColumnDef::new(Users::EmailVerified).boolean().not_null())
                .col(ColumnDef::new(Users::FirstName).string_len(255))
                .col(ColumnDef::new(Users::LastName).string_len(255))
                .col(ColumnDef::new(Users::Enabled).boolean().not_null())
                .col(ColumnDef::new(Users::PasswordHash).text())
                .col(ColumnDef::new(Users::NotBefore).big_integer().not_null().default(0))
                .col(ColumnDef::new(Users::ServiceAccountOf).uuid())
                .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                .foreign_key(&mut fk((Users::Table, Users::RealmId), (Realms::Table, Realms::Id)))
                .foreign_key(&mut fk((Users::Table, Users::ServiceAccountOf), (Clients::Table, Clients::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ux_users_realm_username", Users::Table, &[Users::RealmId, Users::Username]).unique().to_owned(),
        )
        .await?;
        m.create_index(index("ix_users_realm_email", Users::Table, &[Users::RealmId, Users::Email])).await?;

        m.create_table(
            Table::create()
                .table(RoleGrants::Table)
                .col(ColumnDef::new(RoleGrants::UserId).uuid().not_null())
                .col(ColumnDef::new(RoleGrants::Role).string_len(64).not_null())
                .col(ColumnDef::new(RoleGrants::GrantedAt).big_integer().not_null())
                .primary_key(Index::create().col(RoleGrants::UserId).col(RoleGrants::Role))
                .foreign_key(&mut fk((RoleGrants::Table, RoleGrants::UserId), (Users::Table, Users::Id)))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(UserSessions::Table)
                .col(ColumnDef::new(UserSessions::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(UserSessions::RealmId).uuid().not_null())
                .col(ColumnDef::new(UserSessions::UserId).uuid().not_null())
                .col(ColumnDef::new(UserSessions::SessionType).string_len(16).not_null())
                .col(ColumnDef::new(UserSessions::IpAddress).string_len(64).not_null())
                .col(ColumnDef::new(UserSessions::UserAgent).string_len(512))
                .col(ColumnDef::new(UserSessions::StartedAt).big_integer().not_null())
                .col(ColumnDef::new(UserSessions::LastAccess).big_integer().not_null())
                .col(ColumnDef::new(UserSessions::RememberMe).boolean().not_null())
                .col(ColumnDef::new(UserSessions::State).string_len(16).not_null())
                .col(ColumnDef::new(UserSessions::EndedAt).big_integer())
                .col(ColumnDef::new(UserSessions::EndReason).string_len(32))
                .foreign_key(&mut fk((UserSessions::Table, UserSessions::RealmId), (Realms::Table, Realms::Id)))
                .foreign_key(&mut fk((UserSessions::Table, UserSessions::UserId), (Users::Table, Users::Id)))
                .to_owned(),
        )
        .await?;
        use UserSessions as S;
        for stmt in [
            index("ix_user_sessions_realm_activity", S::Table, &[S::RealmId, S::LastAccess, S::Id]),
            index(
                "ix_user_sessions_realm_type_activity",
                S::Table,
                &[S::RealmId, S::SessionType, S::LastAccess, S::Id],
            ),
            index("ix_user_sessions_user_activity", S::Table, &[S::UserId, S::LastAccess]),
            index("ix_user_sessions_realm_ip", S::Table, &[S::RealmId, S::IpAddress]),
            index("ix_user_sessions_realm_started", S::Table, &[S::RealmId, S::StartedAt]),
        ] {
            m.create_index(stmt).await?;
        }

        m.create_table(
            Table::create()
                .table(ClientSessions::Table)
                .col(ColumnDef::new(ClientSessions::UserSessionId).uuid().not_null())
                .col(ColumnDef::new(ClientSessions::ClientId).uuid().not_null())
                .col(ColumnDef::new(ClientSessions::RealmId).uuid().not_null())
                .col(ColumnDef::new(ClientSessions::SessionType).string_len(16).not_null())
                .col(ColumnDef::new(ClientSessions::StartedAt).big_integer().not_null())
                .col(ColumnDef::new(ClientSessions::LastRefresh).big_integer().not_null())
                .col(ColumnDef::new(ClientSessions::Scopes).text().not_null())
                .col(ColumnDef::new(ClientSessions::RedirectUri).text())
                .primary_key(Index::create().col(ClientSessions::UserSessionId).col(ClientSessions::ClientId))
                .foreign_key(&mut fk(
                    (ClientSessions::Table, ClientSessions::UserSessionId),
                    (UserSessions::Table, UserSessions::Id),
                ))
                .foreign_key(&mut fk((ClientSessions::Table, ClientSessions::ClientId), (Clients::Table, Clients::Id)))
                .to_owned(),
        )
        .await?;
        use ClientSessions as C;
        for stmt in [
            index("ix_client_sessions_client_activity", C::Table, &[C::ClientId, C::LastRefresh, C::UserSessionId]),
            index("ix_client_sessions_client_type_activity", C::Table, &[C::ClientId, C::SessionType, C::LastRefresh]),
        ] {
            m.create_index(stmt).await?;
        }

        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(ColumnDef::new(SigningKeys::Kid).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(SigningKeys::RealmId).uuid().not_null())
                .col(ColumnDef::new(SigningKeys::Algorithm).string_len(16).not_null())
                .col(ColumnDef::new(SigningKeys::PrivateKey).text().not_null())
                .col(ColumnDef::new(SigningKeys::PublicKey).text().not_null())
                .col(ColumnDef::new(SigningKeys::Active).boolean().not_null())
                .col(ColumnDef::new(SigningKeys::CreatedAt).big_integer().not_null())
                .foreign_key(&mut fk((SigningKeys::Table, SigningKeys::RealmId), (Realms::Table, Realms::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_signing_keys_realm", SigningKeys::Table, &[SigningKeys::RealmId])).await?;

        // The audit log and the outbox keep no foreign keys: they must outlive what they speak of
        // (a deleted realm's last notifications are still delivered; its history still read).
        m.create_table(
            Table::create()
                .table(AdminEvents::Table)
                .col(ColumnDef::new(AdminEvents::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(AdminEvents::Time).big_integer().not_null())
                .col(ColumnDef::new(AdminEvents::RealmId).uuid().not_null())
                .col(ColumnDef::new(AdminEvents::AuthRealmId).uuid())
                .col(ColumnDef::new(AdminEvents::AuthClientId).string_len(255))
                .col(ColumnDef::new(AdminEvents::AuthUserId).uuid())
                .col(ColumnDef::new(AdminEvents::IpAddress).string_len(64))
                .col(ColumnDef::new(AdminEvents::OperationType).string_len(16).not_null())
                .col(ColumnDef::new(AdminEvents::ResourceType).string_len(64).not_null())
                .col(ColumnDef::new(AdminEvents::ResourcePath).text().not_null())
                .col(ColumnDef::new(AdminEvents::Representation).text())
                .col(ColumnDef::new(AdminEvents::Outcome).string_len(16).not_null())
                .col(ColumnDef::new(AdminEvents::Error).text())
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_admin_events_realm_time",
            AdminEvents::Table,
            &[AdminEvents::RealmId, AdminEvents::Time],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(ColumnDef::new(Outbox::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Outbox::RealmId).uuid().not_null())
                .col(ColumnDef::new(Outbox::ClientId).uuid().not_null())
                .col(ColumnDef::new(Outbox::Kind).string_len(32).not_null())
                .col(ColumnDef::new(Outbox::Url).text().not_null())
                .col(ColumnDef::new(Outbox::Payload).text().not_null())
                .col(ColumnDef::new(Outbox::RequestGroup).uuid())
                .col(ColumnDef::new(Outbox::Status).string_len(16).not_null())
                .col(ColumnDef::new(Outbox::Attempts).integer().not_null().default(0))
                .col(ColumnDef::new(Outbox::NextAttemptAt).big_integer().not_null())
                .col(ColumnDef::new(Outbox::DeadlineAt).big_integer().not_null())
                .col(ColumnDef::new(Outbox::ClaimedBy).string_len(64))
                .col(ColumnDef::new(Outbox::ClaimedUntil).big_integer())
                .col(ColumnDef::new(Outbox::LastError).text())
                .col(ColumnDef::new(Outbox::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Outbox::DeliveredAt).big_integer())
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_outbox_due", Outbox::Table, &[Outbox::Status, Outbox::NextAttemptAt])).await?;
        m.create_index(index("ix_outbox_request_group", Outbox::Table, &[Outbox::RequestGroup])).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            AdminEvents::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            ClientSessions::Table.into_iden(),
            UserSessions::Table.into_iden(),
            RoleGrants::Table.into_iden(),
            Users::Table.into_iden(),
            Clients::Table.into_iden(),
            Realms::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
