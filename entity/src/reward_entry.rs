use sea_orm::entity::prelude::*;

/// A line of the rewards ledger, append-only: a `credit` (a closed year's result, once
/// per person and year) or a `redemption` (points spent at a counter). Apart from the
/// score: nothing here changes an index, a score or a star.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub org_id: i64,
    pub kind: String,
    /// The result year credited or drawn on.
    pub year: i32,
    /// Exact decimal text.
    pub points: String,
    /// Credit: the year's yuan cap (NULL: none); redemption: the item's value.
    pub yuan: Option<String>,
    pub rule: Option<String>,
    #[sea_orm(unique)]
    pub credit_key: Option<String>,
    pub item_id: Option<i64>,
    pub item_name: Option<String>,
    #[sea_orm(unique)]
    pub code_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
