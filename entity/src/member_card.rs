use sea_orm::entity::prelude::*;

/// A member card: the printed QR (`VGC1:<number>:<mac>`, signed with `secret`) and the
/// typeable card number (8 digits and a Damm check digit). Revoked, never deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_cards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    #[sea_orm(unique)]
    pub number: String,
    /// HMAC key of this card's QR code.
    pub secret: String,
    /// The person while the card is valid; NULL once revoked (one valid card each).
    #[sea_orm(unique)]
    pub active_person_id: Option<i64>,
    pub issued_at: DateTimeUtc,
    pub issued_by: Option<i64>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<i64>,
    pub revoke_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
