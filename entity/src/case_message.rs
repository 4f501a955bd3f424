use sea_orm::entity::prelude::*;

/// One step of a case (filed, proposed, accepted, rejected, escalated, comment).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub action: String,
    /// `member`, `account` or `system`.
    pub author_kind: String,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub body: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
