use sea_orm::entity::prelude::*;

/// A member, probationary member or applicant: the current state. Every change is
/// also written to `person_history` and the audit log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 编号 from the national member information system, when known.
    #[sea_orm(unique)]
    pub external_id: Option<String>,
    pub name: String,
    /// Personal data: never logged.
    #[sea_orm(unique)]
    pub phone: Option<String>,
    pub org_id: i64,
    pub role: String,
    pub status: String,
    #[sea_orm(unique)]
    pub openid: Option<String>,
    pub birth_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
