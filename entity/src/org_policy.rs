use sea_orm::entity::prelude::*;

/// Which policy an organization scores a year with; the newest row wins, closed years are frozen.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    /// A preset name, or the name of a customized copy.
    pub policy: String,
    /// The customized policy's TOML (None for a preset).
    pub source: Option<String>,
    pub chosen_by: Option<i64>,
    pub chosen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
