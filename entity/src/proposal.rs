use sea_orm::entity::prelude::*;

/// What the platform found and proposes to the secretary (EQ-3 absences at a
/// session's close, TW-5's six months at month end): nothing is deducted until the
/// secretary confirms, and a dismissal keeps its reason.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `absence` or `inactive`.
    pub kind: String,
    /// The rule ID (EQ-3, TW-5).
    pub rule: String,
    pub person_id: i64,
    pub org_id: i64,
    pub activity_id: Option<i64>,
    /// The month (`2026-12`) or the activity's day it is about.
    pub period: String,
    /// The item a confirmation records.
    pub item: String,
    pub at: DateTimeUtc,
    pub note: String,
    /// `open`, `confirmed`, `dismissed`.
    pub state: String,
    #[sea_orm(unique)]
    pub dedup_key: String,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by_id: Option<i64>,
    pub decided_by_name: Option<String>,
    pub reason: Option<String>,
    pub fact_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
