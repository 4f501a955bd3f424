use sea_orm::entity::prelude::*;

/// A follow-up with a member rated 2★ or below: a warning talk (警示谈话) or a pairing
/// (结对帮教), recorded by the branch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follow_ups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    pub person_id: i64,
    /// `talk` or `pairing`.
    pub kind: String,
    pub held_on: Date,
    /// Who talked with the member, or the paired mentor.
    pub partner: Option<String>,
    pub note: String,
    pub recorded_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
