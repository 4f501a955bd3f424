use sea_orm::entity::prelude::*;

/// A publicity (公示) of one period's results by an organization: a snapshot that never
/// changes; a corrected list is a new row (`version` + 1, `previous_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publicities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    /// `month`, `quarter`, `half_year`, `year`.
    pub period: String,
    /// Which month, quarter or half-year (1-based); none for the year.
    pub n: Option<i32>,
    pub version: i32,
    pub previous_id: Option<i64>,
    /// What changed since the previous version (JSON list).
    pub changes: Option<String>,
    pub ranked: bool,
    /// The rule that asks for it (TW-6 …).
    pub rule: String,
    /// The snapshot (JSON list of rows).
    pub rows: String,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    /// Objections are answered by then (window end + the policy's answer days).
    pub answer_until: DateTimeUtc,
    /// `open`, `confirmed`, `superseded`.
    pub state: String,
    #[sea_orm(unique)]
    pub active_key: Option<String>,
    #[sea_orm(unique)]
    pub public_token: String,
    pub published_by: Option<i64>,
    pub confirmed_by: Option<i64>,
    pub confirmed_at: Option<DateTimeUtc>,
    /// Set by the one instance that sends the opening notices.
    pub notified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
