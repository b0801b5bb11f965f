use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub realm_id: Uuid,
    pub user_id: Uuid,
    pub session_type: String,
    pub ip_address: String,
    pub user_agent: Option<String>,
    pub started_at: i64,
    pub last_access: i64,
    pub remember_me: bool,
    pub state: String,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub origin_id: Option<Uuid>,
    /// When the session times out (ms), kept by triggers (migration 10): never written here.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
