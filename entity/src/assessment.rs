use sea_orm::entity::prelude::*;

/// A committee's yearly branch assessment (JH-1 … JH-7): the policy whose scorecard it
/// uses and the dates it set (extensions are audited).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assessments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The committee (superior organization) that assesses its branches.
    pub org_id: i64,
    pub year: i32,
    pub policy: String,
    /// Branches submit their self-assessment (自评) until then.
    pub self_until: DateTimeUtc,
    /// The committee reviews until then.
    pub review_until: DateTimeUtc,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
