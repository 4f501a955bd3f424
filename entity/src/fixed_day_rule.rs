use sea_orm::entity::prelude::*;

/// A branch's fixed-day rule; the newest row of an organization is in force.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fixed_day_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    /// 1–31; a shorter month takes its last day.
    pub day_of_month: i32,
    /// "HH:MM" in the organization's time zone.
    pub start_time: String,
    pub duration_minutes: i32,
    pub place: Option<String>,
    pub set_by: Option<i64>,
    pub set_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
