use sea_orm::entity::prelude::*;

/// An organization's rewards setting, append-only (newest wins; the deepest
/// organization on a member's path wins): the expiry of balances in years.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    /// NULL: balances never expire.
    pub expiry_years: Option<i32>,
    pub reason: String,
    pub set_by: Option<i64>,
    pub set_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
