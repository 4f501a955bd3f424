use sea_orm::entity::prelude::*;

/// What was done about an EQ-6 flag (a Party procedure), with the evidence seen then.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rank_flag_handlings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub org_id: i64,
    pub year: i32,
    pub rule: String,
    pub flag: String,
    /// JSON.
    pub evidence: String,
    pub action: String,
    pub handled_by: i64,
    pub handled_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
