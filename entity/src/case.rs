use sea_orm::entity::prelude::*;

/// A case: a dispute (异议) now; investigations, publicity objections and falsification
/// cases later. Its steps are `case_messages`; its files `case_attachments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `dispute`, `objection` (to a publicity), `investigation` (XH-19).
    pub kind: String,
    pub subject_person_id: Option<i64>,
    /// `ledger_entry`, `checkin`, `refusal` or `missing` (an activity); `publicity` for an
    /// objection, `person_period` for an investigation.
    pub target_kind: String,
    pub target_id: i64,
    pub activity_id: Option<i64>,
    pub year: i32,
    /// The subject's organization when filed: who may see the case.
    pub filed_org_id: i64,
    /// The organization answering it now (its parent after an escalation).
    pub org_id: i64,
    /// `open`, `proposed`, `escalated`, `accepted`, `rejected`.
    pub state: String,
    /// Set while open: one open case per kind, subject and target.
    #[sea_orm(unique)]
    pub open_key: Option<String>,
    pub reason: String,
    /// A secretary's proposed correction (JSON), waiting for an admin.
    pub proposal: Option<String>,
    /// The answer: what was done, or why it was rejected.
    pub outcome: Option<String>,
    pub outcome_fact_id: Option<i64>,
    pub deadline: DateTimeUtc,
    pub escalations: i32,
    pub filed_at: DateTimeUtc,
    pub decided_by: Option<i64>,
    pub closed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
