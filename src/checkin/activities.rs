//! Activities: what an organization held, when, and with what branch-set points.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::policy::{ActivityKind, fmt_dec};

#[derive(Debug, Clone)]
pub struct NewActivity {
    pub org_id: i64,
    pub kind: ActivityKind,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Branch-set points for members taking part (XH-8.2); none for a fixed day.
    pub points: Option<Decimal>,
    /// When it was recorded; `now` for a live registration, earlier when importing history.
    pub registered_at: DateTime<Utc>,
}

pub fn kind_label(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::FixedDay => "主题党日",
        ActivityKind::Meeting => "会议",
        ActivityKind::Training => "培训",
        ActivityKind::Volunteer => "志愿服务",
        ActivityKind::Cultural => "文体活动",
        ActivityKind::GeneralMeeting => "党员大会",
        ActivityKind::Lecture => "党课",
        ActivityKind::LifeMeeting => "组织生活会",
    }
}

pub fn validate(a: &NewActivity) -> AppResult<()> {
    if a.title.trim().is_empty() || a.title.chars().count() > 100 {
        return Err(AppError::field("title", "活动名称须为 1 至 100 个字符"));
    }
    if a.ends_at < a.starts_at {
        return Err(AppError::field("ends_at", "结束时间不能早于开始时间"));
    }
    if a.kind == ActivityKind::FixedDay && a.points.is_some() {
        return Err(AppError::field(
            "points",
            "主题党日的积分由政策规定（XH-8.1），不设分值",
        ));
    }
    if let Some(p) = a.points
        && (p.is_sign_negative() || p > Decimal::from(100))
    {
        return Err(AppError::field("points", "分值须在 0 至 100 之间"));
    }
    Ok(())
}

/// Inserts an activity row (no posting: callers post the organization, or replay).
pub async fn insert(
    db: &impl ConnectionTrait,
    actor: &Actor,
    a: &NewActivity,
) -> AppResult<entity::activity::Model> {
    validate(a)?;
    let row = entity::activity::ActiveModel {
        id: NotSet,
        org_id: Set(a.org_id),
        kind: Set(a.kind.as_str().to_owned()),
        title: Set(a.title.trim().to_owned()),
        place: Set(a.place.clone()),
        starts_at: Set(a.starts_at),
        ends_at: Set(a.ends_at),
        points: Set(a.points.map(fmt_dec)),
        registered_at: Set(a.registered_at),
        created_by: Set(actor.id.filter(|_| actor.kind == "account")),
        created_at: Set(Utc::now()),
    };
    Ok(entity::activity::Entity::insert(row)
        .exec_with_returning(db)
        .await?)
}

/// Creates an activity with its invitations and posts the host organization's points
/// (XH-5.1, halved when registered late, XH-6), audited, in one transaction.
pub async fn create(
    state: &crate::state::AppState,
    actor: &Actor,
    org: &entity::organization::Model,
    new: &NewActivity,
    invites: &[i64],
) -> AppResult<entity::activity::Model> {
    let txn = crate::db::begin(&state.db).await?;
    let row = insert(&txn, actor, new).await?;
    for invited in invites {
        entity::activity_invite::Entity::insert(entity::activity_invite::ActiveModel {
            id: NotSet,
            activity_id: Set(row.id),
            org_id: Set(*invited),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let year = crate::ledger::inputs::year_of(row.starts_at, crate::ledger::inputs::tz_of(org));
    crate::ledger::post::repost(
        &txn,
        &state.scoring,
        crate::ledger::SubjectRef::Org(org.id),
        year,
        None,
    )
    .await?;
    crate::audit::record(
        &txn,
        actor,
        crate::audit::Entry::new("create", "activity", row.id)
            .org(crate::ids::OrgId(org.id))
            .after(serde_json::json!({"title": row.title, "kind": row.kind, "starts_at": row.starts_at})),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// The organizations taking part in an activity: its own and the invited ones; their
/// whole subtrees take part.
pub async fn participant_roots(
    db: &impl ConnectionTrait,
    activity_id: i64,
    host_org: i64,
) -> AppResult<Vec<i64>> {
    let mut roots = vec![host_org];
    roots.extend(
        entity::activity_invite::Entity::find()
            .filter(entity::activity_invite::Column::ActivityId.eq(activity_id))
            .all(db)
            .await?
            .into_iter()
            .map(|i| i.org_id),
    );
    Ok(roots)
}

/// Whether a person of the organization at `org_path` may take part in the activity
/// (`judge::invited`: the host's or an invited organization's subtree).
pub async fn takes_part(
    db: &impl ConnectionTrait,
    activity: &entity::activity::Model,
    org_path: &str,
) -> AppResult<bool> {
    Ok(super::judge::invited(
        &participant_roots(db, activity.id, activity.org_id).await?,
        org_path,
    ))
}
