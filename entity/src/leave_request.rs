use sea_orm::entity::prelude::*;

/// A member's request for leave (请假) from one activity, and the secretary's answer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leave_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub activity_id: i64,
    /// The member's organization when asked: who may answer it.
    pub org_id: i64,
    pub reason: String,
    /// `requested`, `approved`, `refused`, `withdrawn`.
    pub state: String,
    /// Set while requested or approved: one live request per member and activity.
    #[sea_orm(unique)]
    pub open_key: Option<String>,
    /// `member` (from /m/) or `account` (entered by the secretary).
    pub entered_by_kind: String,
    pub entered_by_id: Option<i64>,
    pub entered_by_name: String,
    pub requested_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by_id: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decision_reason: Option<String>,
    /// When the member was told the answer (set once: one notice across instances).
    pub notice_sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
