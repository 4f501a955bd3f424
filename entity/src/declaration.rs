use sea_orm::entity::prelude::*;

/// A member's declaration (申报, SD-2) of a contribution: an item of the policy, a
/// date, a description, an optional photo. It scores only once approved, through the
/// fact the approval records.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "declarations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    /// The member's organization when declared: who may review it.
    pub org_id: i64,
    /// An item code of the member's policy.
    pub item: String,
    pub on_date: Date,
    pub year: i32,
    pub description: String,
    pub upload_id: Option<i64>,
    /// `submitted`, `approved`, `rejected`, `withdrawn`.
    pub state: String,
    #[sea_orm(unique)]
    pub form_key: Option<String>,
    /// `member` or `account` (a recorder or secretary entering it).
    pub entered_by_kind: String,
    pub entered_by_id: Option<i64>,
    pub entered_by_name: String,
    pub submitted_at: DateTimeUtc,
    /// The item's fields the reviewer set (JSON, exact numbers).
    pub fields: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by_id: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decision_reason: Option<String>,
    /// The fact the approval recorded.
    pub fact_id: Option<i64>,
    pub notice_sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
