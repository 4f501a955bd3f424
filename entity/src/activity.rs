use sea_orm::entity::prelude::*;

/// An activity held by an organization (fixed activity day, meeting, training …).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub kind: String,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    /// Branch-set points for members taking part (XH-8.2), an exact decimal as text.
    pub points: Option<String>,
    /// When it was recorded (XH-6: back-filled late → the organization's points halve).
    pub registered_at: DateTimeUtc,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
