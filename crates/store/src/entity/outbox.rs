use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub realm_id: Uuid,
    pub client_id: Uuid,
    pub kind: String,
    pub url: String,
    pub payload: String,
    pub request_group: Option<Uuid>,
    pub status: Delivery,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub deadline_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum Delivery {
    /// Waiting for (another) attempt.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "DELIVERED")]
    Delivered,
    /// Given up: the deadline passed without a successful delivery.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Nothing could be sent (a SAML client); kept so every outcome is on record.
    #[sea_orm(string_value = "SKIPPED")]
    Skipped,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Delivery {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "PENDING",
            Delivery::Delivered => "DELIVERED",
            Delivery::Failed => "FAILED",
            Delivery::Skipped => "SKIPPED",
        }
    }
}
