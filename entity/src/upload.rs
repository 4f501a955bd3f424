use sea_orm::entity::prelude::*;

/// A stored file (bytes in the database, so every instance serves it). Images are
/// stored re-encoded, without their EXIF data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub bytes: Vec<u8>,
    /// `member` (a person id) or `account`.
    pub owner_kind: String,
    pub owner_id: Option<i64>,
    pub case_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
