//! Signing keys of realms, as stored. Generating and using them is the provider's business.

use latchkey_domain::{RealmId, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::signing_key;
use crate::StoreError;

#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub realm_id: RealmId,
    /// `RS256`, `ES256` or `HS256`.
    pub algorithm: String,
    /// PKCS#8 (base64 DER) for RS256/ES256, the raw secret (base64) for HS256.
    pub private_key: String,
    /// The public JWK as JSON; empty for HS256.
    pub public_key: String,
    /// Whether new tokens are signed with it. Inactive keys still verify until removed.
    pub active: bool,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A realm's keys, newest first.
pub async fn list(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<Vec<StoredKey>, StoreError> {
    let rows = signing_key::Entity::find()
        .filter(signing_key::Column::RealmId.eq(realm_id.as_uuid()))
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| StoredKey {
            kid: m.kid,
            realm_id: m.realm_id.into(),
            algorithm: m.algorithm,
            private_key: m.private_key,
            public_key: m.public_key,
            active: m.active,
            created_at: Timestamp::from_millis(m.created_at),
        })
        .collect())
}

/// Adds a key. When it is active, the realm's other keys of the same algorithm stop signing
/// (they keep verifying).
pub async fn insert(db: &impl ConnectionTrait, key: &StoredKey) -> Result<(), StoreError> {
    if key.active {
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::Active, Expr::value(false))
            .filter(signing_key::Column::RealmId.eq(key.realm_id.as_uuid()))
            .filter(signing_key::Column::Algorithm.eq(key.algorithm.clone()))
            .exec(db)
            .await?;
    }
    let row = signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        realm_id: Set(key.realm_id.into()),
        algorithm: Set(key.algorithm.clone()),
        private_key: Set(key.private_key.clone()),
        public_key: Set(key.public_key.clone()),
        active: Set(key.active),
        created_at: Set(key.created_at.as_millis()),
    };
    signing_key::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// Removes a key: tokens it signed no longer verify. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, realm_id: RealmId, kid: &str) -> Result<bool, StoreError> {
    let result = signing_key::Entity::delete_many()
        .filter(signing_key::Column::RealmId.eq(realm_id.as_uuid()))
        .filter(signing_key::Column::Kid.eq(kid))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Locks the realm's row until the transaction ends, so that nodes creating its first keys at
/// the same moment take turns (on SQLite the write transaction already serialises them).
pub async fn lock_realm(db: &impl ConnectionTrait, realm_id: RealmId) -> Result<(), StoreError> {
    use sea_orm::QuerySelect;
    crate::entity::realm::Entity::find_by_id(realm_id.as_uuid()).lock_exclusive().one(db).await?;
    Ok(())
}
