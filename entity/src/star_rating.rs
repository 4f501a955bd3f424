use sea_orm::entity::prelude::*;

/// A branch's SD-6 star rating of a closed year: the proposal as confirmed (with
/// departures in its lines), filed (备案) by the organization above, then published.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_ratings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    /// `confirmed`, `filed`, `published`.
    pub state: String,
    /// Five-star seats (the preset's share and rounding over `members`).
    pub quota: i32,
    /// Members counted for the quota (exempt ones are not).
    pub members: i32,
    pub confirmed_by: i64,
    pub confirmed_at: DateTimeUtc,
    pub filed_by: Option<i64>,
    pub filed_at: Option<DateTimeUtc>,
    pub publicity_id: Option<i64>,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
