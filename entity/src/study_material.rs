use sea_orm::entity::prelude::*;

/// Material for make-up study of a missed fixed activity day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "study_materials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub activity_id: Option<i64>,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    /// JSON: the branch's quiz (questions, options, answers), if any.
    pub quiz: Option<String>,
    /// Completion faster than this is an empty click, refused (never scored by length).
    pub min_seconds: i32,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    /// No longer offered to members (attempts that used it keep pointing at it).
    pub retired_at: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
