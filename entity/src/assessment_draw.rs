use sea_orm::entity::prelude::*;

/// A random audit draw (随机抽查) among an assessment's reviewed branches: the seed, the
/// candidates and the result, so anyone can repeat it. Append-only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assessment_draws")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub assessment_id: i64,
    /// Hex.
    pub seed: String,
    pub n: i32,
    /// JSON list of organization ids, ascending.
    pub candidates: String,
    /// JSON list of the drawn organization ids, in draw order.
    pub result: String,
    pub drawn_by: Option<i64>,
    pub drawn_by_name: String,
    pub drawn_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
