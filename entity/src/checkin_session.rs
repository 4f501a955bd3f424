use sea_orm::entity::prelude::*;

/// A check-in window a secretary opened; the live store only caches it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkin_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: i64,
    pub opens_at: DateTimeUtc,
    /// Attendance is taken until this instant (start + 15 minutes for a fixed day).
    pub closes_at: DateTimeUtc,
    pub slot_seconds: i32,
    /// HMAC key for this session's QR slots (hex).
    pub secret: String,
    pub opened_by: Option<i64>,
    pub opened_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub closed_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
