use sea_orm::entity::prelude::*;

/// Who objected to a publicity, and how to reach them: the case (`kind = objection`)
/// holds the reason, state and answer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publicity_objections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub case_id: i64,
    pub publicity_id: i64,
    /// `member` or `public` (师生群众, no account).
    pub objector_kind: String,
    pub objector_person_id: Option<i64>,
    pub objector_name: String,
    /// A phone or address given by a public objector; staff only.
    pub contact: Option<String>,
    /// The person on the list the objection is about, if any.
    pub about_person_id: Option<i64>,
    pub ip: Option<String>,
    /// The organization the resolved objection was filed with (备案).
    pub filed_with_org_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
