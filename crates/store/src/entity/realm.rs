use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "realms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub not_before: i64,
    pub session_cutoff: i64,
    pub sso_idle: i64,
    pub sso_max: i64,
    pub sso_idle_remember_me: i64,
    pub sso_max_remember_me: i64,
    pub offline_idle: i64,
    pub offline_max_enabled: bool,
    pub offline_max: i64,
    pub access_token_lifespan: i64,
    pub signature_algorithm: String,
    pub created_at: i64,
    pub remember_me: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
