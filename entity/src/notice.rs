use sea_orm::entity::prelude::*;

/// A notice sent once: a reminder to a member (template message) or an alert to the
/// staff of an organization (console inbox). The unique `key` is the claim.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub key: String,
    /// `fixed_day_eve`, `fixed_day_missed`.
    pub kind: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
