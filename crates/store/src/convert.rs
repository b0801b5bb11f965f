//! Domain values to rows and back. Stored values that no longer parse are reported as
//! [`StoreError::Corrupt`] rather than guessed at.

use latchkey_domain::{
    Client, ClientKind, ClientSession, PasswordHash, Realm, SessionLimits, Timestamp, User, UserSession,
};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter};

use crate::entity::{client, client_session, realm, user, user_session};
use crate::StoreError;

pub(crate) fn realm_row(r: &Realm) -> realm::ActiveModel {
    realm::ActiveModel {
        id: Set(r.id.into()),
        name: Set(r.name.clone()),
        display_name: Set(r.display_name.clone()),
        enabled: Set(r.enabled),
        not_before: Set(r.not_before),
        session_cutoff: Set(r.session_cutoff.as_millis()),
        sso_idle: Set(r.limits.sso_idle),
        sso_max: Set(r.limits.sso_max),
        sso_idle_remember_me: Set(r.limits.sso_idle_remember_me),
        sso_max_remember_me: Set(r.limits.sso_max_remember_me),
        offline_idle: Set(r.limits.offline_idle),
        offline_max_enabled: Set(r.limits.offline_max_enabled),
        offline_max: Set(r.limits.offline_max),
        access_token_lifespan: Set(r.access_token_lifespan),
        signature_algorithm: Set(r.signature_algorithm.as_str().to_owned()),
        created_at: Set(r.created_at.as_millis()),
        remember_me: Set(r.remember_me),
    }
}

pub(crate) fn realm_from(m: realm::Model) -> Result<Realm, StoreError> {
    Ok(Realm {
        id: m.id.into(),
        name: m.name,
        display_name: m.display_name,
        enabled: m.enabled,
        not_before: m.not_before,
        session_cutoff: Timestamp::from_millis(m.session_cutoff),
        limits: SessionLimits {
            sso_idle: m.sso_idle,
            sso_max: m.sso_max,
            sso_idle_remember_me: m.sso_idle_remember_me,
            sso_max_remember_me: m.sso_max_remember_me,
            offline_idle: m.offline_idle,
            offline_max_enabled: m.offline_max_enabled,
            offline_max: m.offline_max,
        },
        access_token_lifespan: m.access_token_lifespan,
        signature_algorithm: m.signature_algorithm.parse()?,
        remember_me: m.remember_me,
        created_at: Timestamp::from_millis(m.created_at),
    })
}

/// An active model setting only the columns in which `after` differs from `before`: an update
/// made from a snapshot then writes what the request changed and nothing it merely read, so a
/// concurrent change to another column is never undone.
pub(crate) fn changed<A: ActiveModelTrait>(before: &A, after: &A) -> A {
    let mut out = A::default();
    for column in <A::Entity as EntityTrait>::Column::iter() {
        let new = after.get(column);
        if before.get(column) != new {
            if let Some(value) = new.into_value() {
                out.set(column, value);
            }
        }
    }
    out
}

/// Updates the row `filter` selects with the columns in which `after` differs from `before`
/// (see [`changed`]); nothing at all when they are equal. A unique-key clash is a conflict
/// named by `what`.
pub(crate) async fn update_changed<A>(
    db: &impl ConnectionTrait,
    before: &A,
    after: &A,
    filter: sea_orm::sea_query::SimpleExpr,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError>
where
    A: ActiveModelTrait + Send,
{
    let columns = changed(before, after);
    if !columns.is_changed() {
        return Ok(());
    }
    <A::Entity as EntityTrait>::update_many()
        .set(columns)
        .filter(filter)
        .exec(db)
        .await
        .map_err(crate::error::conflict_as(what))?;
    Ok(())
}

fn json_list(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

fn parse_list(field: &str, raw: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("clients.{field}: {e}")))
}

pub(crate) fn client_row(c: &Client) -> client::ActiveModel {
    let secret_hash = match &c.kind {
        ClientKind::Public => None,
        ClientKind::Confidential { secret } => Some(secret.as_phc().to_owned()),
    };
    client::ActiveModel {
        id: Set(c.id.into()),
        realm_id: Set(c.realm_id.into()),
        client_id: Set(c.client_id.clone()),
        name: Set(c.name.clone()),
        protocol: Set(c.protocol.as_str().to_owned()),
        enabled: Set(c.enabled),
        public_client: Set(c.is_public()),
        secret_hash: Set(secret_hash),
        redirect_uris: Set(json_list(&c.redirect_uris)),
        web_origins: Set(json_list(&c.web_origins)),
        root_url: Set(c.root_url.clone()),
        base_url: Set(c.base_url.clone()),
        admin_url: Set(c.admin_url.clone()),
        backchannel_logout_url: Set(c.backchannel_logout_url.clone()),
        backchannel_logout_session_required: Set(c.backchannel_logout_session_required),
        backchannel_logout_revoke_offline: Set(c.backchannel_logout_revoke_offline),
        frontchannel_logout: Set(c.frontchannel_logout),
        direct_access_grants: Set(c.direct_access_grants),
        standard_flow: Set(c.standard_flow),
        service_accounts: Set(c.service_accounts),
        pkce_required: Set(c.pkce_required),
        admin_api_access: Set(c.admin_api_access),
        not_before: Set(c.not_before),
        created_at: Set(c.created_at.as_millis()),
    }
}

pub(crate) fn client_from(m: client::Model) -> Result<Client, StoreError> {
    let kind = match (m.public_client, m.secret_hash) {
        (true, _) => ClientKind::Public,
        (false, Some(hash)) => ClientKind::Confidential { secret: PasswordHash::from_phc(hash) },
        (false, None) => return Err(StoreError::Corrupt(format!("confidential client {} has no secret", m.id))),
    };
    Ok(Client {
        id: m.id.into(),
        realm_id: m.realm_id.into(),
        redirect_uris: parse_list("redirect_uris", &m.redirect_uris)?,
        web_origins: parse_list("web_origins", &m.web_origins)?,
        client_id: m.client_id,
        name: m.name,
        protocol: m.protocol.parse()?,
        enabled: m.enabled,
        kind,
        root_url: m.root_url,
        base_url: m.base_url,
        admin_url: m.admin_url,
        backchannel_logout_url: m.backchannel_logout_url,
        backchannel_logout_session_required: m.backchannel_logout_session_required,
        backchannel_logout_revoke_offline: m.backchannel_logout_revoke_offline,
        frontchannel_logout: m.frontchannel_logout,
        direct_access_grants: m.direct_access_grants,
        standard_flow: m.standard_flow,
        service_accounts: m.service_accounts,
        pkce_required: m.pkce_required,
        admin_api_access: m.admin_api_access,
        not_before: m.not_before,
        created_at: Timestamp::from_millis(m.created_at),
    })
}

pub(crate) fn user_row(u: &User) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(u.id.into()),
        realm_id: Set(u.realm_id.into()),
        username: Set(u.username.clone()),
        email: Set(u.email.clone()),
        email_verified: Set(u.email_verified),
        first_name: Set(u.first_name.clone()),
        last_name: Set(u.last_name.clone()),
        enabled: Set(u.enabled),
        password_hash: Set(u.password.as_ref().map(|p| p.as_phc().to_owned())),
        not_before: Set(u.not_before),
        service_account_of: Set(u.service_account_of.map(Into::into)),
        created_at: Set(u.created_at.as_millis()),
    }
}

pub(crate) fn user_from(m: user::Model) -> User {
    User {
        id: m.id.into(),
        realm_id: m.realm_id.into(),
        username: m.username,
        email: m.email,
        email_verified: m.email_verified,
        first_name: m.first_name,
        last_name: m.last_name,
        enabled: m.enabled,
        password: m.password_hash.map(PasswordHash::from_phc),
        not_before: m.not_before,
        service_account_of: m.service_account_of.map(Into::into),
        created_at: Timestamp::from_millis(m.created_at),
    }
}

pub(crate) fn user_session_row(s: &UserSession) -> user_session::ActiveModel {
    user_session::ActiveModel {
        id: Set(s.id.as_uuid()),
        realm_id: Set(s.realm_id.into()),
        user_id: Set(s.user_id.into()),
        session_type: Set(s.session_type.as_str().to_owned()),
        ip_address: Set(s.ip_address.clone()),
        user_agent: Set(s.user_agent.clone()),
        started_at: Set(s.started_at.as_millis()),
        last_access: Set(s.last_access.as_millis()),
        remember_me: Set(s.remember_me),
        state: Set(s.state.as_str().to_owned()),
        ended_at: Set(s.ended_at.map(Timestamp::as_millis)),
        end_reason: Set(s.end_reason.map(|r| r.as_str().to_owned())),
        origin_id: Set(s.origin.map(|o| o.as_uuid())),
        // Computed by the database from the realm's limits (migration 10).
        expires_at: sea_orm::ActiveValue::NotSet,
    }
}

pub(crate) fn user_session_from(m: user_session::Model) -> Result<UserSession, StoreError> {
    Ok(UserSession {
        id: m.id.into(),
        origin: m.origin_id.map(Into::into),
        realm_id: m.realm_id.into(),
        user_id: m.user_id.into(),
        session_type: m.session_type.parse()?,
        ip_address: m.ip_address,
        user_agent: m.user_agent,
        started_at: Timestamp::from_millis(m.started_at),
        last_access: Timestamp::from_millis(m.last_access),
        remember_me: m.remember_me,
        state: m.state.parse()?,
        ended_at: m.ended_at.map(Timestamp::from_millis),
        end_reason: m.end_reason.as_deref().map(str::parse).transpose()?,
    })
}

pub(crate) fn client_session_row(c: &ClientSession) -> client_session::ActiveModel {
    client_session::ActiveModel {
        user_session_id: Set(c.user_session_id.as_uuid()),
        client_id: Set(c.client_id.into()),
        realm_id: Set(c.realm_id.into()),
        session_type: Set(c.session_type.as_str().to_owned()),
        started_at: Set(c.started_at.as_millis()),
        last_refresh: Set(c.last_refresh.as_millis()),
        scopes: Set(c.scopes.join(" ")),
        redirect_uri: Set(c.redirect_uri.clone()),
        refresh_token_id: Set(c.refresh_token_id.clone()),
    }
}

pub(crate) fn client_session_from(m: client_session::Model) -> Result<ClientSession, StoreError> {
    Ok(ClientSession {
        user_session_id: m.user_session_id.into(),
        client_id: m.client_id.into(),
        realm_id: m.realm_id.into(),
        session_type: m.session_type.parse()?,
        started_at: Timestamp::from_millis(m.started_at),
        last_refresh: Timestamp::from_millis(m.last_refresh),
        scopes: m.scopes.split_whitespace().map(str::to_owned).collect(),
        redirect_uri: m.redirect_uri,
        refresh_token_id: m.refresh_token_id,
    })
}
