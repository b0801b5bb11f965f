use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub time: i64,
    pub realm_id: Uuid,
    pub auth_realm_id: Option<Uuid>,
    pub auth_client_id: Option<String>,
    pub auth_user_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub operation_type: String,
    pub resource_type: String,
    pub resource_path: String,
    pub representation: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
