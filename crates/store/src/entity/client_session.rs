use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_session_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: Uuid,
    pub realm_id: Uuid,
    pub session_type: String,
    pub started_at: i64,
    pub last_refresh: i64,
    /// Space-separated, as in OAuth's `scope`.
    pub scopes: String,
    pub redirect_uri: Option<String>,
    pub refresh_token_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
