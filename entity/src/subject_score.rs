use sea_orm::entity::prelude::*;

/// The running result of a subject's year, derived from the ledger (rebuildable).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subject_scores")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_kind: String,
    pub subject_id: i64,
    pub year: i32,
    /// The branch the score is shown under (a person's current one).
    pub org_id: i64,
    pub index_name: String,
    pub status: String,
    pub score: Option<String>,
    pub score_sort: Option<i64>,
    pub stars: Option<i32>,
    pub rating: Option<String>,
    /// The engine's result as JSON (parts, flags, composite).
    pub detail: Option<String>,
    pub closed: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
