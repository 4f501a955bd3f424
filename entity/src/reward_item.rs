use sea_orm::entity::prelude::*;

/// A catalogue item of the rewards ledger (积分超市): its price in points and its value
/// in yuan, kept by an organization. Retired, never deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    /// Exact decimal text.
    pub points: String,
    /// Exact decimal text.
    pub yuan: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
    pub retired_by: Option<i64>,
    pub retire_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
