use sea_orm::entity::prelude::*;

/// A one-vote veto (一票否决, JH-4) on a scorecard: the item, the cause, the evidence and
/// who decided. Append-only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scorecard_vetoes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scorecard_id: i64,
    pub item: String,
    pub cause: String,
    pub evidence: String,
    pub upload_id: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_by_name: String,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
