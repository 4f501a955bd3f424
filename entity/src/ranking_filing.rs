use sea_orm::entity::prelude::*;

/// A branch's quarterly ranking (a publicity version) filed with the committee (EQ-4 报送).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ranking_filings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    #[sea_orm(unique)]
    pub publicity_id: i64,
    pub year: i32,
    pub period: String,
    pub n: Option<i32>,
    pub version: i32,
    pub filed_by: i64,
    pub filed_at: DateTimeUtc,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
