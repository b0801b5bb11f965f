//! Authorization codes: short-lived, single-use, stored only as hashes.

use latchkey_domain::{ClientId, RealmId, SessionId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::auth_code;
use crate::StoreError;

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// Hex SHA-256 of the code handed to the client.
    pub code_hash: String,
    pub realm_id: RealmId,
    pub client_id: ClientId,
    pub user_session_id: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when the request carried one.
    pub code_challenge: Option<String>,
    pub expires_at: Timestamp,
}

pub async fn insert(db: &impl ConnectionTrait, code: &AuthCode) -> Result<(), StoreError> {
    let row = auth_code::ActiveModel {
        code_hash: Set(code.code_hash.clone()),
        realm_id: Set(code.realm_id.into()),
        client_id: Set(code.client_id.into()),
        user_session_id: Set(code.user_session_id.as_uuid()),
        redirect_uri: Set(code.redirect_uri.clone()),
        scope: Set(code.scope.clone()),
        nonce: Set(code.nonce.clone()),
        code_challenge: Set(code.code_challenge.clone()),
        expires_at: Set(code.expires_at.as_millis()),
        used_at: Set(None),
    };
    auth_code::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The first use of a live code: it is now marked used.
    Fresh(AuthCode),
    /// A code that was already used: whatever was issued from it must be revoked.
    Replayed(AuthCode),
    /// No such code, or an expired one.
    Unknown,
}

/// Uses a code: the one caller whose update marked it used gets [`Taken::Fresh`]; every later
/// use, until the code is purged after it expires, gets [`Taken::Replayed`].
pub async fn take(db: &impl ConnectionTrait, code_hash: &str, now: Timestamp) -> Result<Taken, StoreError> {
    let Some(row) = auth_code::Entity::find_by_id(code_hash).one(db).await? else { return Ok(Taken::Unknown) };
    let marked = auth_code::Entity::update_many()
        .col_expr(auth_code::Column::UsedAt, Expr::value(now.as_millis()))
        .filter(auth_code::Column::CodeHash.eq(code_hash))
        .filter(auth_code::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    let code = AuthCode {
        code_hash: row.code_hash,
        realm_id: row.realm_id.into(),
        client_id: row.client_id.into(),
        user_session_id: row.user_session_id.into(),
        redirect_uri: row.redirect_uri,
        scope: row.scope,
        nonce: row.nonce,
        code_challenge: row.code_challenge,
        expires_at: Timestamp::from_millis(row.expires_at),
    };
    Ok(if marked != 1 {
        Taken::Replayed(code)
    } else if row.expires_at <= now.as_millis() {
        Taken::Unknown
    } else {
        Taken::Fresh(code)
    })
}

/// Removes expired codes; returns how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: Timestamp) -> Result<u64, StoreError> {
    let result =
        auth_code::Entity::delete_many().filter(auth_code::Column::ExpiresAt.lte(now.as_millis())).exec(db).await?;
    Ok(result.rows_affected)
}
