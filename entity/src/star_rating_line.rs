use sea_orm::entity::prelude::*;

/// One member in a confirmed star rating: the engine's proposal, the stars the branch
/// confirmed, and the reason when they differ.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_rating_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rating_id: i64,
    pub person_id: i64,
    /// Exact decimal text of the closed year's score.
    pub score: Option<String>,
    pub proposed_stars: Option<i32>,
    pub stars: Option<i32>,
    /// 免评 (SD-7): no stars, not counted in the quota.
    pub exempt: bool,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
