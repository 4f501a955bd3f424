use sea_orm::entity::prelude::*;

/// Append-only facts the policy engine scores: check-ins, make-up studies, items,
/// annulments. A correction is a new fact pointing at the old one (`target_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "facts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `checkin`, `makeup_study`, `item`, `annul`.
    pub kind: String,
    pub person_id: Option<i64>,
    /// The organization an org item belongs to.
    pub org_id: Option<i64>,
    pub activity_id: Option<i64>,
    pub item: Option<String>,
    /// The item's own fields, as a JSON object (decimals as strings).
    pub fields: Option<String>,
    pub method: Option<String>,
    pub target_id: Option<i64>,
    /// When it happened (WeChat's CreateTime for a scan).
    pub at: DateTimeUtc,
    /// The scoring year, in the organization's time zone.
    pub year: i32,
    /// When we recorded it.
    pub received_at: DateTimeUtc,
    pub session_id: Option<i64>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    #[sea_orm(unique)]
    pub dedup_key: Option<String>,
    /// The WeChat event (dedup key) that produced it, for rebuilding a resend's reply.
    pub source_event: Option<String>,
    pub created_at: DateTimeUtc,
}

/// The columns the policy engine reads: scoring paths load this, not the whole row
/// (a year replay reads every fact of the year).
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Scored {
    pub id: i64,
    pub kind: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub activity_id: Option<i64>,
    pub item: Option<String>,
    pub fields: Option<String>,
    pub method: Option<String>,
    pub target_id: Option<i64>,
    pub at: DateTimeUtc,
    pub year: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
