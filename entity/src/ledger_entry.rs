use sea_orm::entity::prelude::*;

/// Append-only ledger: a subject's score is the sum of its entries. Re-derivation after
/// a late or annulled fact appends adjustments; nothing is edited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `person` or `org`.
    pub subject_kind: String,
    pub subject_id: i64,
    pub year: i32,
    /// `fact`, `activity` or `year`.
    pub source_kind: String,
    pub source_id: Option<i64>,
    pub rule_id: String,
    pub part: i32,
    pub at: Option<DateTimeUtc>,
    /// Exact decimal as text: the change this entry makes.
    pub points: String,
    pub asked: String,
    pub note: String,
    /// The fact whose arrival caused this entry (itself, or a later one that re-derived it).
    pub cause_fact_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
