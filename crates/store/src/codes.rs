//! Authorization codes: short-lived, single-use, stored only as hashes.

use latchkey_domain::Timestamp;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::auth_code;
use crate::StoreError;

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// Hex SHA-256 of the code handed to the client.
    pub code_hash: String,
    pub realm_id: Uuid,
    pub client_id: Uuid,
    pub user_session_id: Uuid,
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
        realm_id: Set(code.realm_id),
        client_id: Set(code.client_id),
        user_session_id: Set(code.user_session_id),
        redirect_uri: Set(code.redirect_uri.clone()),
        scope: Set(code.scope.clone()),
        nonce: Set(code.nonce.clone()),
        code_challenge: Set(code.code_challenge.clone()),
        expires_at: Set(code.expires_at.as_millis()),
    };
    auth_code::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// Takes a code out of the store: it is returned once, to the one caller whose delete removed
/// it, and only if it has not expired. A second use finds nothing.
pub async fn take(db: &impl ConnectionTrait, code_hash: &str, now: Timestamp) -> Result<Option<AuthCode>, StoreError> {
    let Some(row) = auth_code::Entity::find_by_id(code_hash).one(db).await? else { return Ok(None) };
    let deleted = auth_code::Entity::delete_by_id(code_hash).exec(db).await?.rows_affected;
    if deleted != 1 || row.expires_at <= now.as_millis() {
        return Ok(None);
    }
    Ok(Some(AuthCode {
        code_hash: row.code_hash,
        realm_id: row.realm_id,
        client_id: row.client_id,
        user_session_id: row.user_session_id,
        redirect_uri: row.redirect_uri,
        scope: row.scope,
        nonce: row.nonce,
        code_challenge: row.code_challenge,
        expires_at: Timestamp::from_millis(row.expires_at),
    }))
}

/// Removes expired codes; returns how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: Timestamp) -> Result<u64, StoreError> {
    let result =
        auth_code::Entity::delete_many().filter(auth_code::Column::ExpiresAt.lte(now.as_millis())).exec(db).await?;
    Ok(result.rows_affected)
}
