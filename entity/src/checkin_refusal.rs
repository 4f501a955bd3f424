use sea_orm::entity::prelude::*;

/// Scans that did not count, kept with their reason (the pretix lesson).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkin_refusals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: Option<i64>,
    pub session_id: Option<i64>,
    pub person_id: Option<i64>,
    pub openid: Option<String>,
    pub reason: String,
    pub scene: Option<String>,
    #[sea_orm(unique)]
    pub event_key: Option<String>,
    pub at: DateTimeUtc,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
