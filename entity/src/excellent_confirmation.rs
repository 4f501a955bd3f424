use sea_orm::entity::prelude::*;

/// TW-7: the branch confirms a closed year's proposed 优秀 (90 points and above).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "excellent_confirmations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    pub person_id: i64,
    pub note: Option<String>,
    pub confirmed_by: i64,
    pub confirmed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
