use sea_orm::entity::prelude::*;

/// A one-time redemption code a member asked for: bound to the member and the item,
/// valid until `expires_at`, used once (`used_at` set by a conditional update).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub person_id: i64,
    pub item_id: i64,
    /// The member's organization when issued.
    pub org_id: i64,
    pub issued_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub used_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
