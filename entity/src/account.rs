use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    /// Scope: the organization subtree (admin, auditor, security admin) or the
    /// branch (secretary); null means the whole installation.
    pub org_id: Option<i64>,
    pub disabled: bool,
    pub must_change_password: bool,
    /// Set by a password reset: every call but change-password and logout is refused
    /// until the password is changed.
    pub reset_pending: bool,
    pub password_changed_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
