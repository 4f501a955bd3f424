use sea_orm::entity::prelude::*;

/// One login: access tokens carry its id, the refresh token rotates within it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: i64,
    /// SHA-256 of the current refresh secret.
    pub refresh_hash: String,
    /// SHA-256 of the secret the last rotation replaced: presenting it again is reuse.
    pub previous_refresh_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub refreshed_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
