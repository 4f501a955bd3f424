use sea_orm::entity::prelude::*;

/// Append-only exemption decisions (XH-20, SD-7, TW-8): `grant` or `revoke`,
/// for one year or permanently (`year` is null).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exemptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub action: String,
    pub year: Option<i32>,
    pub reason: String,
    pub approver: String,
    pub approved_on: Date,
    pub actor_id: Option<i64>,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
