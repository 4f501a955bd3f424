use sea_orm::entity::prelude::*;

/// One branch's scorecard in an assessment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scorecards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub assessment_id: i64,
    pub org_id: i64,
    /// `draft`, `submitted` (self-assessment done), `reviewed`.
    pub state: String,
    pub submitted_at: Option<DateTimeUtc>,
    pub submitted_by: Option<i64>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub reviewed_by: Option<i64>,
    /// JH-4: members with 15 or more bottom-line points deducted, as the reviewer confirmed.
    pub over15_count: Option<i32>,
    /// What the platform proposed from the ledger when the reviewer confirmed.
    pub over15_proposed: Option<i32>,
    /// JSON list of the members counted (`{person_id, name, points}`).
    pub over15_members: Option<String>,
    /// JSON list of sanctioned members (`{name, level}`), JH-4.
    pub sanctions: String,
    /// The result once reviewed (exact decimal text) and its rating value.
    pub total: Option<String>,
    pub rating: Option<String>,
    /// Reviewed after the JH-7 due date.
    pub late: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
