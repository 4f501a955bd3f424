use sea_orm::entity::prelude::*;

/// A setting the platform proposes for an organization (e.g. members' own rank when
/// `erqi-2021` is chosen); an admin confirms or declines it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_proposals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    pub setting: String,
    pub policy: String,
    pub reason: String,
    /// `pending`, `confirmed`, `declined`.
    pub state: String,
    #[sea_orm(unique)]
    pub open_key: Option<String>,
    pub proposed_by: Option<i64>,
    pub proposed_at: DateTimeUtc,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
