use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub realm_id: Uuid,
    pub client_id: String,
    pub name: Option<String>,
    pub protocol: String,
    pub enabled: bool,
    pub public_client: bool,
    pub secret_hash: Option<String>,
    /// JSON array of strings.
    pub redirect_uris: String,
    /// JSON array of strings.
    pub web_origins: String,
    pub root_url: Option<String>,
    pub base_url: Option<String>,
    pub admin_url: Option<String>,
    pub backchannel_logout_url: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub backchannel_logout_revoke_offline: bool,
    pub frontchannel_logout: bool,
    pub direct_access_grants: bool,
    pub standard_flow: bool,
    pub service_accounts: bool,
    pub pkce_required: bool,
    pub admin_api_access: bool,
    pub not_before: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
