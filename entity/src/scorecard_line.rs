use sea_orm::entity::prelude::*;

/// One indicator of a scorecard: the branch's self score and evidence, the reviewer's
/// score (the result, JH-6) and the reason where it differs.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scorecard_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scorecard_id: i64,
    /// The policy's item code (`political_1`, `central_work` …).
    pub code: String,
    pub self_score: Option<String>,
    pub evidence: Option<String>,
    /// JSON list of upload ids.
    pub files: String,
    pub self_by: Option<i64>,
    pub self_at: Option<DateTimeUtc>,
    pub review_score: Option<String>,
    pub review_reason: Option<String>,
    pub review_by: Option<i64>,
    pub review_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
