use sea_orm::entity::prelude::*;

/// One member's go at make-up study.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "makeup_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub activity_id: i64,
    pub material_id: i64,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub seconds: Option<i32>,
    pub quiz_passed: Option<bool>,
    pub fact_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
